/**
 * @module
 * How a service benchmark runs a service in each configuration (plain node, Node's flags, the
 * leash modes and layers): the configurations, the command line of each, which process to
 * measure, the policy each gets (its ports its own) and Node's flags for it.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../../test/support/processes.ts';
import { childrenOf, commandOf } from './proc.ts';

const REPO = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

export interface Configuration {
  readonly id: string;
  readonly label: string;
  /** How the server's command line is built. */
  readonly run:
    | {
        readonly kind: 'plain';
        /** Node options before the script (a peer's preload: `--require …`). */
        readonly nodeOptions?: readonly string[];
      }
    | { readonly kind: 'flags' }
    | {
        readonly kind: 'leash';
        readonly mode: 'learn' | 'report' | 'enforce';
        /** Unset: the default, every layer (the kernel where the machine has it). */
        readonly layer?: 'process' | 'both';
        /** `--isolate`: leash is the front door, the routes run in sandboxed worker processes. */
        readonly isolate?: boolean;
      };
}

/** Plain node, Node's own flags, then every leash mode and layer; the scenarios add their peers. */
export const CONFIGURATIONS: readonly Configuration[] = [
  { id: 'baseline', label: 'baseline: plain node, no leash', run: { kind: 'plain' } },
  {
    id: 'node-flags',
    label: "Node's --permission flags alone (native floor)",
    run: { kind: 'flags' },
  },
  { id: 'learn', label: 'leash learn', run: { kind: 'leash', mode: 'learn' } },
  { id: 'report', label: 'leash report', run: { kind: 'leash', mode: 'report' } },
  {
    id: 'enforce-process',
    label: 'leash enforce, in process only (--layer=process)',
    run: { kind: 'leash', mode: 'enforce', layer: 'process' },
  },
  {
    id: 'enforce-both',
    label: "leash enforce with Node's flags (--layer=both)",
    run: { kind: 'leash', mode: 'enforce', layer: 'both' },
  },
  {
    id: 'enforce-kernel',
    label: 'leash enforce, every layer: + Landlock and seccomp (production default)',
    run: { kind: 'leash', mode: 'enforce' },
  },
  {
    id: 'enforce-isolate',
    label:
      'leash enforce --isolate: routes in sandboxed workers behind leash (per-route isolation)',
    run: { kind: 'leash', mode: 'enforce', isolate: true },
  },
];

export function isIsolated(config: Configuration): boolean {
  return config.run.kind === 'leash' && config.run.isolate === true;
}

/** The wrapper around the server's command line (leash's CLI) and the node options before it. */
export function serverCommand(
  config: Configuration,
  leashBin: string,
  policyFile: string,
  flags: readonly string[],
  /** Whether the config file asks for isolation (then the other enforce runs say --no-isolate). */
  configIsolates: boolean,
): { wrap: ((command: string[]) => string[]) | undefined; nodeOptions: string[] } {
  const run = config.run;
  const wrap =
    run.kind === 'leash'
      ? (command: string[]) => [
          process.execPath,
          leashBin,
          run.mode,
          ...(run.layer === undefined ? [] : [`--layer=${run.layer}`]),
          ...(run.isolate === true
            ? ['--isolate']
            : run.mode === 'enforce' && configIsolates
              ? ['--no-isolate']
              : []),
          '--policy',
          policyFile,
          '--',
          ...command,
        ]
      : undefined;
  const nodeOptions =
    run.kind === 'flags' ? [...flags] : run.kind === 'plain' ? [...(run.nodeOptions ?? [])] : [];
  return { wrap, nodeOptions };
}

/** A command line as the report shows it: node, $WORK and the checkout named, long flags cut. */
export function shorten(words: readonly string[], work: string): string {
  return words
    .map((w) =>
      w
        .replace(process.execPath, 'node')
        .replace(work, '$WORK')
        .replace(REPO, '.')
        .replace(/^--allow-fs-(read|write)=.*/, '--allow-fs-$1=…'),
    )
    .filter((w, i, all) => !(w.startsWith('--allow-fs-') && all[i - 1] === w))
    .join(' ');
}

/**
 * Finds the node process running server.ts: the started process itself or the leash CLI's child.
 * Under --isolate the leash process is the service (the supervisor), its workers are counted with it.
 */
export function servicePidOf(
  started: number,
  wrapped: boolean,
  isolated: boolean,
): { service: number; wrapper?: number } {
  if (!wrapped) return { service: started };
  if (isolated) return { service: started, wrapper: started };
  const children = childrenOf(started);
  const server = children.find((pid) => {
    try {
      return commandOf(pid).some((w) => w.endsWith('server.ts'));
    } catch {
      return false;
    }
  });
  if (server === undefined) throw new Error(`no server.ts process under the leash CLI ${started}`);
  return { service: server, wrapper: started };
}

export function countRules(policyFile: string): number {
  const count = (node: unknown): number => {
    if (Array.isArray(node)) return node.length;
    if (node === null || typeof node !== 'object') return 0;
    let n = 0;
    for (const v of Object.values(node)) n += count(v);
    return n;
  };
  const policy = JSON.parse(readFileSync(policyFile, 'utf8')) as Record<string, unknown>;
  let n = 0;
  for (const [key, section] of Object.entries(policy)) if (key !== 'version') n += count(section);
  return n;
}

/** Node's flags for the policy, as `leash export node-flags --json` prints them. */
export async function exportNodeFlags(
  leashBin: string,
  policyFile: string,
  /** The service's directory (its config and `{app}` root). */
  cwd: string,
  servicePort: number,
): Promise<string[]> {
  const { status, stdout, stderr } = await run(
    process.execPath,
    [leashBin, 'export', 'node-flags', '--json', '--policy', policyFile],
    {
      cwd,
      // The service's environment: a portable policy names its port as {env:PORT}.
      env: { ...process.env, LEASH_CONFIG: '', LEASH_MODE: '', PORT: String(servicePort) },
    },
  );
  if (status !== 0) throw new Error(`leash export node-flags: exit ${status}: ${stderr}`);
  return (JSON.parse(stdout) as { flags: string[] }).flags;
}

/**
 * A learned policy with one configuration's ports put in place of the learning run's: each
 * configuration runs on ports of its own, and its policy is the one it would have learned there.
 * `ports` maps each port of the learning run to the configuration's.
 */
export function withPorts(
  policyText: string,
  ports: ReadonlyArray<[from: number, to: number]>,
): string {
  let out = policyText;
  for (const [from, to] of ports)
    out = out.replace(new RegExp(`(?<=:)${from}(?!\\d)`, 'g'), String(to));
  return out;
}

async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer().listen(0, host);
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `n` distinct ports free right now. */
export async function freePorts(n: number): Promise<number[]> {
  const used = new Set<number>();
  while (used.size < n) used.add(await freePort());
  return [...used];
}
