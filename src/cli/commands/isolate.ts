/**
 * @module
 * `leash enforce --isolate -- <cmd…>`: runs the supervisor in this process (front door, token key,
 * session table, database proxy) and the service's code only in sandboxed workers, one set per
 * group of routes; stops them all on SIGINT/SIGTERM.
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { LeashError } from '../../errors.ts';
import type { Grouping } from '../../isolate/groups.ts';
import { isRunning, readStatus, renderStatus } from '../../isolate/status-file.ts';
import { startSupervisor } from '../../isolate/supervisor.ts';
import { createFileStore, statusPath } from '../../store/file-store.ts';
import { kernelSupport } from '../../supervisor/kernel/helper.ts';
import { type CliContext, cliContext, display, policyPath } from '../context.ts';
import type { Layer } from './run.ts';
import { runEnvironment } from './run.ts';

export interface IsolatedOptions {
  readonly context: CliContext;
  readonly policyFile: string;
  readonly command: readonly string[];
  /** What `--layer` asked for; undefined: every layer this machine has. */
  readonly layers: readonly Layer[] | undefined;
}

/** The groups, one line each: `g1: GET /files/:name, POST /upload — 3 grants`, then the grants. */
export function describeGroups(grouping: Grouping, options: { grants?: boolean } = {}): string {
  const lines: string[] = [];
  for (const g of grouping.groups) {
    const routes = g.routes.length === 0 ? '(requests that match no route)' : g.routes.join(', ');
    const grants =
      g.grants.length === 0
        ? 'no grants of its own'
        : `${g.grants.length} grant${g.grants.length === 1 ? '' : 's'}${options.grants === true ? `: ${g.grants.join('; ')}` : ''}`;
    lines.push(`  ${g.name}: ${routes} — ${grants}`);
  }
  if (grouping.merged.length > 0)
    lines.push(
      `  (${grouping.merged.length} merge${grouping.merged.length === 1 ? '' : 's'} of groups with different grants to stay within maxGroups)`,
    );
  return `${lines.join('\n')}\n`;
}

/** The layers a worker runs under, as the start line names them. */
function workerLayers(layers: readonly Layer[], kernel: boolean): string {
  const names = [];
  if (kernel) names.push('kernel sandbox');
  if (layers.includes('node')) names.push("Node's permission flags");
  if (layers.includes('process')) names.push('in-process checks');
  return names.length === 0 ? 'nothing' : names.join(' + ');
}

export async function runIsolated(options: IsolatedOptions): Promise<number> {
  const { context, policyFile } = options;
  const say = (line: string) => process.stderr.write(`leash: ${line}\n`);
  if (!existsSync(policyFile))
    throw new LeashError(
      'ERR_LEASH_POLICY_IO',
      `${display(context, policyFile)}: no policy to isolate by; learn one first (leash learn -- <cmd…>)`,
      { file: policyFile },
    );
  if (options.layers !== undefined && !options.layers.includes('process'))
    throw new LeashError(
      'ERR_LEASH_USAGE',
      "--isolate needs leash's agent in every worker (it redirects the service's port and database and carries the tokens): keep 'process' in --layer",
    );
  const store = createFileStore({
    file: policyFile,
    modules: context.modules,
    locality: context.locality,
  });
  const policy = store.load();
  const layers = options.layers ?? ['process', 'node', 'kernel'];
  const env = runEnvironment({
    mode: 'enforce',
    command: options.command,
    policyFile,
    context,
    layers: layers.filter((l) => l === 'process'),
  });
  let kernel: ReturnType<typeof kernelSupport> | undefined;
  if (layers.includes('kernel')) {
    kernel = kernelSupport(env);
    if (kernel.helper === undefined || kernel.problem !== undefined) {
      if (options.layers !== undefined)
        throw new LeashError(
          'ERR_LEASH_KERNEL',
          `the kernel layer was asked for but cannot run here: ${kernel.problem ?? 'no launcher'} (see leash doctor)`,
        );
      say(
        `no kernel layer (${kernel.problem ?? 'no launcher'}); workers are held by the in-process layer alone`,
      );
      kernel = undefined;
    }
  }
  const supervisor = await startSupervisor({
    policy,
    policyFile,
    configFile: context.config.file,
    command: options.command,
    env,
    settings: context.config.isolate,
    principal: context.config.principal,
    inputHeaders: context.config.inputHeaders,
    kernel,
    nodeFlags: layers.includes('node'),
    violations: store,
    log: (message) => say(`isolate: ${message}`),
  });
  const workers = supervisor.status().reduce((n, g) => n + g.workers.length, 0);
  say(
    `isolate: ${supervisor.grouping.groups.length} groups, ${workers} workers (each group's ${workerLayers(layers, kernel !== undefined)}); listening on ${supervisor.front.host}:${supervisor.front.port}`,
  );
  process.stderr.write(describeGroups(supervisor.grouping));
  if (supervisor.databaseFiles.length > 0)
    say(`isolate: database files only leash opens: ${supervisor.databaseFiles.join(', ')}`);
  supervisor.releaseOutput();
  return await new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => () => {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, handlers[s]);
      void supervisor.stop().then(() => resolve(128 + (constants.signals[signal] ?? 0)));
    };
    const handlers = {
      SIGINT: stop('SIGINT'),
      SIGTERM: stop('SIGTERM'),
      SIGHUP: stop('SIGHUP'),
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, handlers[s]);
  });
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description(
      'what a running `leash enforce --isolate` does: per group its workers, their memory, requests and refusals',
    )
    .option(
      '-p, --policy <file>',
      'the policy it enforces (default: from config, else leash.policy.json)',
    )
    .action(async (options: { policy?: string }, cmd: Command) => {
      const context = await cliContext(cmd.optsWithGlobals<{ config?: string }>());
      const file = statusPath(policyPath(context, options.policy));
      const document = readStatus(file);
      if (document === undefined || !isRunning(document)) {
        process.stdout.write(
          `no isolating leash is running for ${display(context, policyPath(context, options.policy))}${document === undefined ? '' : ` (${display(context, file)} is left from process ${document.pid}, which is gone)`}\n`,
        );
        process.exitCode = 1;
        return;
      }
      process.stdout.write(renderStatus(document));
    });
}
