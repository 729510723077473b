/**
 * @module
 * `leash doctor`: what this machine offers the enforcing layers: the platform, Landlock's ABI and
 * what it covers, seccomp, the sandbox launcher (built now if it was not), and what waits for the
 * service while it runs.
 */
import { release } from 'node:os';
import type { Command } from 'commander';
import { kernelSupport } from '../../supervisor/kernel/helper.ts';
import { findWaiter } from '../../supervisor/waiter.ts';

/** What each Landlock ABI adds, as the kernel documents it. */
const LANDLOCK_FEATURES: ReadonlyArray<readonly [number, string]> = [
  [1, 'file read/write/execute per path'],
  [2, 'rename and link across directories'],
  [3, 'truncate'],
  [4, 'TCP bind and connect per port'],
  [5, 'device ioctl'],
  [6, 'signal and abstract unix socket scoping'],
  [7, 'audit logging'],
];

export function doctorReport(env: NodeJS.ProcessEnv = process.env): string {
  const support = kernelSupport(env);
  const waiter = findWaiter(env);
  const features = LANDLOCK_FEATURES.filter(([abi]) => abi <= support.landlock).map(([, f]) => f);
  const rows: Array<[string, string]> = [
    ['platform', `${process.platform} ${process.arch}, kernel ${release()}`],
    ['node', process.version],
    [
      'landlock',
      support.landlock > 0 ? `ABI ${support.landlock}: ${features.join(', ')}` : 'not available',
    ],
    ['seccomp', support.seccomp ? 'filters available' : 'not available'],
    ['launcher', support.helper ?? `not built: ${support.problem}`],
    [
      'kernel layer',
      support.problem === undefined
        ? 'available: leash enforce uses it by default'
        : `unavailable (${support.problem}): leash enforce runs with Node's flags and in-process checks`,
    ],
    [
      'waiting',
      waiter.ok
        ? 'in the launcher: while the service runs, leash learn|report|enforce is a small C process'
        : `in Node (${waiter.reason}): leash learn|report|enforce stays a Node process while the service runs`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('show what this machine supports: Landlock, seccomp, the sandbox launcher')
    .action(() => {
      process.stdout.write(`${doctorReport()}\n`);
    });
}
