/**
 * @module
 * `leash learn|report|enforce -- <cmd…>` and `leash ci -- <test cmd…>`: run any command with the
 * agent preloaded through NODE_OPTIONS (so forked Node children carry it too), pass signals through
 * and come back with the command's exit status.
 *
 * learn, report and enforce prepare the start here, then become the launcher's thin waiter
 * (src/supervisor/waiter.ts) for as long as the service runs, and `leash _finish` after it; where
 * there is no launcher, and for learn's progress lines on a terminal, this process waits
 * (`runWrapped`), as `leash ci` always does.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { VIOLATIONS_FD_ENV } from '../../agent/violations-pipe.ts';
import * as policy from '../../core/policy.ts';
import { LeashError } from '../../errors.ts';
import { loadKey } from '../../modules/csp/tag.ts';
import {
  agentPaths,
  compileNodePermissions,
  nodeOptionsWord,
} from '../../modules/runtime/exporters/node-flags.ts';
import { createFileStore, lockPath, spoolPath } from '../../store/file-store.ts';
import type { PolicyStore } from '../../store/store.ts';
import { planKernel } from '../../supervisor/kernel/plan.ts';
import { collectViolations } from '../../supervisor/violations-pipe.ts';
import {
  execWaiter,
  findWaiter,
  leashCommand,
  type WaiterResult,
} from '../../supervisor/waiter.ts';
import { type CliContext, cliContext, display, policyPath } from '../context.ts';
import {
  learnSummary,
  policyIfReadable,
  progressInterval,
  startProgress,
} from '../learn-summary.ts';
import { explainNodeWarnings } from '../node-warnings.ts';
import { paint, renderRules } from '../render.ts';
import { runIsolated } from './isolate.ts';

/** The preload, as a file path: the compiled one in a package, the source in a checkout. */
function registerPath(): string {
  const own = fileURLToPath(import.meta.url);
  return fileURLToPath(
    new URL(own.endsWith('.ts') ? '../../register.ts' : '../../register.js', import.meta.url),
  );
}

export type Layer = 'process' | 'node' | 'kernel';

/** Every layer, in the order they are named. */
export const LAYERS: readonly Layer[] = ['process', 'node', 'kernel'];

export interface RunOptions {
  readonly mode: 'learn' | 'report' | 'enforce';
  readonly command: readonly string[];
  readonly policyFile: string;
  /** enforce only: which layers refuse (default: all of them). */
  readonly layers?: readonly Layer[];
  readonly context: CliContext;
}

/** The environment a wrapped command runs with. */
export function runEnvironment(options: RunOptions): NodeJS.ProcessEnv {
  const { mode, policyFile, context } = options;
  const layers = options.layers ?? LAYERS;
  const inProcess = mode !== 'enforce' || layers.includes('process');
  // report and enforce send violations to this process over a pipe (fd 3), which writes them:
  // the service needs no write access beside its policy.
  const piped = mode !== 'learn' && inProcess;
  const words = [`--import=${registerPath()}`];
  // --test-isolation=none: under --permission-audit, Node 26's test runner passes an empty
  // `--allow-fs-read=` to each test file's process, which dies at once (`requires an argument`);
  // in one process the test files run, and are observed, all the same.
  if (mode === 'learn') words.push('--permission-audit', '--test-isolation=none');
  if (mode === 'enforce' && layers.includes('node')) {
    const store = createFileStore({
      file: policyFile,
      modules: context.modules,
      locality: context.locality,
    });
    const extra = agentPaths({ file: context.config.file, policyFile });
    const compiled = compileNodePermissions(store.load(), {
      extraRead: extra.read,
      ...(piped ? {} : { extraWrite: extra.write }),
    });
    for (const warning of compiled.warnings) process.stderr.write(`leash: ${warning}\n`);
    const note = explainNodeWarnings(compiled.flags, inProcess);
    if (note !== undefined) process.stderr.write(note);
    words.push(...compiled.flags);
  }
  const existing = process.env.NODE_OPTIONS?.trim();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: [existing, ...words.map(nodeOptionsWord)].filter(Boolean).join(' '),
    // Without the in-process layer the agent stays out of the way.
    LEASH_MODE: inProcess ? mode : 'off',
    LEASH_POLICY: policyFile,
    ...(context.config.file === undefined ? {} : { LEASH_CONFIG: context.config.file }),
  };
  if (piped) env[VIOLATIONS_FD_ENV] = String(VIOLATIONS_FD);
  else delete env[VIOLATIONS_FD_ENV];
  return env;
}

/** The descriptor the service finds the violations pipe on. */
const VIOLATIONS_FD = 3;

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

export interface WrappedOptions {
  /** Where violations arriving on the pipe go (report and enforce). */
  readonly violations?: PolicyStore;
}

/** Runs the command; resolves with the exit code to use (128 + n when it died by signal n). */
export function runWrapped(
  command: readonly string[],
  env: NodeJS.ProcessEnv,
  options: WrappedOptions = {},
): Promise<number> {
  const [file, ...args] = command;
  if (file === undefined)
    throw new LeashError(
      'ERR_LEASH_USAGE',
      'missing the command to run: leash <mode> -- <command…>',
    );
  const { violations } = options;
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      stdio: violations === undefined ? 'inherit' : ['inherit', 'inherit', 'inherit', 'pipe'],
      env,
    });
    const collected =
      violations === undefined || child.stdio[VIOLATIONS_FD] == null
        ? Promise.resolve()
        : collectViolations(child.stdio[VIOLATIONS_FD] as Readable, violations, (message) =>
            process.stderr.write(`leash: ${message}\n`),
          );
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const handlers = FORWARDED.map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const done = (code: number) => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      // Whatever the service flushed on its way out is recorded before leash exits; a child of
      // the service that kept the pipe open does not keep leash waiting.
      const timer = setTimeout(() => child.stdio[VIOLATIONS_FD]?.destroy(), 2000);
      void collected.then(() => {
        clearTimeout(timer);
        resolve(code);
      });
    };
    child.on('error', (error) => {
      process.stderr.write(`leash: cannot run ${file}: ${error.message}\n`);
      done(127);
    });
    child.on('exit', (code, signal) => {
      if (signal !== null) {
        done(128 + (constants.signals[signal] ?? 0));
      } else done(code ?? 1);
    });
  });
}

interface Globals {
  config?: string;
}

export function registerRunCommands(program: Command): void {
  for (const mode of ['learn', 'report', 'enforce'] as const) {
    const description = {
      learn: 'run a command, recording every privilege it uses into the policy',
      report: 'run a command, logging (once each) the privilege uses the policy does not grant',
      enforce: 'run a command, refusing every privilege use the policy does not grant',
    }[mode];
    const command = program
      .command(mode)
      .description(description)
      .argument('<command...>', 'the service command, after --, e.g. -- node server.js')
      .option('-p, --policy <file>', 'policy file (default: from config, else leash.policy.json)');
    if (mode === 'enforce') {
      command.option(
        '--layer <layers>',
        "which layers refuse, comma-separated: 'process' (leash's in-process checks), 'node' (Node's --permission flags), 'kernel' (Landlock + seccomp, Linux); 'both' = process,node; 'all' = every layer. Default: all, the kernel where this machine has it",
        parseLayers,
      );
      command.option(
        '--isolate',
        "Passe's isolation: routes in sandboxed worker processes (one set per group of routes with the same grants) behind leash's dispatcher; the database behind leash's proxy (also `isolate` in the config; docs/isolation.md)",
      );
      command.option(
        '--no-isolate',
        'run the service as one process even when the config says isolate',
      );
    }
    command.action(
      async (
        argv: string[],
        options: { policy?: string; layer?: readonly Layer[]; isolate?: boolean },
        cmd: Command,
      ) => {
        const context = await cliContext(cmd.optsWithGlobals<Globals>());
        const policyFile = policyPath(context, options.policy);
        // The CSP report key: made here, where the policy's directory is writable, so that a fresh
        // copy does not sign with a key of one process (and the workers of --isolate with one each).
        if (mode !== 'learn' && existsSync(policyFile)) ensureCspKey(context, policyFile);
        // --no-isolate runs one process even when the config asks for isolation.
        if (mode === 'enforce' && (options.isolate ?? context.config.isolate.enabled)) {
          process.exitCode = await runIsolated({
            context,
            policyFile,
            command: argv,
            layers: options.layer,
          });
          return;
        }
        let layers = options.layer ?? LAYERS;
        const env = runEnvironment({ mode, command: argv, policyFile, context, layers });
        let command: readonly string[] = argv;
        let launcher: string | undefined;
        // Without a policy file the agent stops the start with its own one line: nothing to plan.
        const planned = mode === 'enforce' && existsSync(policyFile);
        if (planned && layers.includes('kernel')) {
          const plan = planKernel({
            policy: createFileStore({
              file: policyFile,
              modules: context.modules,
              locality: context.locality,
            }).load(),
            policyFile,
            configFile: context.config.file,
            command: argv,
            env,
          });
          if (plan.available) {
            for (const warning of plan.rules.warnings)
              process.stderr.write(`leash: kernel: ${warning}\n`);
            command = plan.command;
            if (plan.support.helper !== undefined) launcher = plan.support.helper;
          } else if (options.layer !== undefined) {
            throw new LeashError(
              'ERR_LEASH_KERNEL',
              `the kernel layer was asked for but cannot run here: ${plan.reason} (see leash doctor)`,
            );
          } else {
            layers = layers.filter((l) => l !== 'kernel');
            process.stderr.write(
              `leash: no kernel layer (${plan.reason}); enforcing with ${layers.join(' + ')}\n`,
            );
          }
        }
        if (planned) process.stderr.write(`leash: enforce layers: ${layers.join(', ')}\n`);
        const inProcess = mode !== 'enforce' || layers.includes('process');
        const piped = mode !== 'learn' && inProcess;
        const before =
          mode === 'learn'
            ? policyIfReadable(policyFile, context.modules, context.locality)
            : undefined;
        const every = progressInterval(process.env, process.stderr.isTTY === true);
        // Learn's progress lines come from this process: it stays to write them.
        if (mode !== 'learn' || every === undefined) {
          const waiter: WaiterResult =
            launcher === undefined ? findWaiter() : { ok: true, path: launcher };
          if (waiter.ok)
            becomeWaiter({
              waiter: waiter.path,
              mode,
              command,
              env,
              policyFile,
              piped,
              context,
              before: before === undefined ? undefined : policyFile,
            });
        }
        const violations = piped ? supervisorStore(context, policyFile) : undefined;
        const stopProgress =
          mode === 'learn' && every !== undefined
            ? startProgress({
                file: policyFile,
                modules: context.modules,
                locality: context.locality,
                before,
                intervalMs: every,
                write: (line) => process.stderr.write(line),
              })
            : undefined;
        process.exitCode = await runWrapped(command, env, violations ? { violations } : {});
        stopProgress?.();
        // A spool a killed run left behind is merged now, even when this run recorded nothing.
        if (violations !== undefined && existsSync(spoolPath(resolve(policyFile))))
          mergeSpool(violations);
        const after =
          mode === 'learn'
            ? policyIfReadable(policyFile, context.modules, context.locality)
            : undefined;
        if (after !== undefined)
          process.stderr.write(
            learnSummary(
              before,
              after,
              display(context, policyFile),
              context.config.simplify.threshold,
            ),
          );
      },
    );
  }

  program
    .command('_finish', { hidden: true })
    .description(
      "internal: run by the launcher after the service has ended: merges the violations spool, prints learn's summary, exits with the service's status",
    )
    .argument('<status>', "the service's exit status")
    .requiredOption('-p, --policy <file>', 'the policy file')
    .requiredOption('--mode <mode>', 'learn, report or enforce')
    .option('--before <file>', 'learn: a copy of the policy as the run found it (removed here)')
    .action(
      async (
        status: string,
        options: { policy: string; mode: string; before?: string },
        cmd: Command,
      ) => {
        const code = Number(status);
        process.exitCode = Number.isInteger(code) && code >= 0 ? code : 70;
        try {
          const context = await cliContext(cmd.optsWithGlobals<Globals>());
          if (options.mode === 'learn') {
            const before =
              options.before === undefined
                ? undefined
                : policyIfReadable(options.before, context.modules, context.locality);
            const after = policyIfReadable(options.policy, context.modules, context.locality);
            if (after !== undefined)
              process.stderr.write(
                learnSummary(
                  before,
                  after,
                  display(context, options.policy),
                  context.config.simplify.threshold,
                ),
              );
          } else mergeSpool(supervisorStore(context, options.policy));
        } catch (error) {
          process.stderr.write(`leash: ${(error as Error).message}\n`);
        } finally {
          if (options.before !== undefined)
            rmSync(dirname(options.before), { recursive: true, force: true });
        }
      },
    );

  program
    .command('ci')
    .description(
      'run the tests learning into a temporary policy; exit 1 listing every privilege the committed policy does not grant',
    )
    .argument('<command...>', 'the test command, after --, e.g. -- npm test')
    .option(
      '-p, --policy <file>',
      'the committed policy (default: from config, else leash.policy.json)',
    )
    .action(async (argv: string[], options: { policy?: string }, cmd: Command) => {
      const context = await cliContext(cmd.optsWithGlobals<Globals>());
      const committedFile = policyPath(context, options.policy);
      const committed = createFileStore({
        file: committedFile,
        modules: context.modules,
        locality: context.locality,
      }).load();
      const dir = mkdtempSync(join(tmpdir(), 'leash-ci-'));
      try {
        // Learning starts from a copy of the committed policy and never generalises, so every
        // access is decided as enforce decides it (the committed rules allow it or not), and what
        // the run adds is exactly the accesses the committed policy does not grant.
        const learnedFile = join(dir, 'learned.policy.json');
        if (existsSync(committedFile)) copyFileSync(committedFile, learnedFile);
        const env = {
          ...runEnvironment({ mode: 'learn', command: argv, policyFile: learnedFile, context }),
          LEASH_LEARN_EXACT: '1',
        };
        const status = await runWrapped(argv, env);
        if (status !== 0) {
          process.stderr.write(
            `leash: the test command failed (exit ${status}); not comparing policies\n`,
          );
          process.exitCode = status;
          return;
        }
        const learned = createFileStore({
          file: learnedFile,
          modules: context.modules,
          locality: context.locality,
        }).load();
        const added = newRules(learned, committed);
        if (added.length === 0) {
          process.stdout.write(
            `leash ci: the tests needed nothing that ${display(context, committedFile)} does not grant\n`,
          );
          process.exitCode = 0;
          return;
        }
        process.stdout.write(
          `leash ci: the tests needed ${added.length} privilege${added.length === 1 ? '' : 's'} that ${display(context, committedFile)} does not grant:\n`,
        );
        process.stdout.write(`${renderRules(added).replace(/^/gm, `  ${paint('green', '+')} `)}\n`);
        process.stdout.write(
          'learn them with `leash learn -- <cmd>` and commit the policy after review\n',
        );
        process.exitCode = 1;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
}

/** The rules of `learned` that `committed` does not have, key for key (nothing was generalised). */
function newRules(learned: policy.Policy, committed: policy.Policy) {
  const had = new Set(policy.allRules(committed).map((rule) => JSON.stringify(rule)));
  return policy.allRules(learned).filter((rule) => !had.has(JSON.stringify(rule)));
}

/** `both`, `all`, or a comma-separated list of layers. */
export function parseLayers(value: string): readonly Layer[] {
  if (value === 'both') return ['process', 'node'];
  if (value === 'all') return LAYERS;
  const words = value.split(',').map((w) => w.trim());
  const bad = words.find((w) => !(LAYERS as readonly string[]).includes(w));
  if (bad !== undefined || words.length === 0)
    throw new LeashError(
      'ERR_LEASH_USAGE',
      `--layer takes process, node, kernel (comma-separated), both or all; got ${JSON.stringify(value)}`,
    );
  return LAYERS.filter((l) => words.includes(l));
}

/** Makes the CSP report key beside the policy when the csp module runs and none is configured. */
function ensureCspKey(context: CliContext, policyFile: string): void {
  if (context.config.modeOf('csp') === 'off' || context.config.csp.key !== undefined) return;
  loadKey(policyFile, undefined);
}

/** The store the supervisor records violations with: it reads and merges the launcher's spool. */
function supervisorStore(context: CliContext, policyFile: string): PolicyStore {
  return createFileStore({
    file: policyFile,
    modules: context.modules,
    locality: context.locality,
    spool: { warn: (message) => process.stderr.write(`leash: ${message}\n`) },
  });
}

/** Merges the spool into the violations file; when that fails the spool stays for the next run. */
function mergeSpool(store: PolicyStore): void {
  try {
    store.updateViolations((current) => current);
  } catch (error) {
    process.stderr.write(
      `leash: the violations spool stays for the next run: ${(error as Error).message}\n`,
    );
  }
}

/**
 * Replaces this process with the launcher's waiter (src/supervisor/waiter.ts). Returns only when
 * that could not be done (said on stderr): the caller then waits in Node.
 */
function becomeWaiter(options: {
  readonly waiter: string;
  readonly mode: 'learn' | 'report' | 'enforce';
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly policyFile: string;
  readonly piped: boolean;
  readonly context: CliContext;
  /** learn: the policy as the run finds it, copied for the summary at the end. */
  readonly before: string | undefined;
}): void {
  const { mode, context } = options;
  if (options.command[0] === undefined)
    throw new LeashError(
      'ERR_LEASH_USAGE',
      'missing the command to run: leash <mode> -- <command…>',
    );
  const policyFile = resolve(options.policyFile);
  let beforeCopy: string | undefined;
  if (options.before !== undefined) {
    beforeCopy = join(mkdtempSync(join(tmpdir(), 'leash-learn-')), 'before.policy.json');
    copyFileSync(options.before, beforeCopy);
  }
  const finish = [
    ...leashCommand(),
    ...(context.config.file === undefined ? [] : ['--config', context.config.file]),
    '_finish',
    '--policy',
    policyFile,
    '--mode',
    mode,
    ...(beforeCopy === undefined ? [] : ['--before', beforeCopy]),
  ];
  const failure = execWaiter({
    waiter: options.waiter,
    command: options.command,
    env: options.env,
    ...(options.piped
      ? { spool: { file: spoolPath(policyFile), lock: lockPath(policyFile) } }
      : {}),
    // learn always ends with its summary; report and enforce only when there is a spool.
    after: { command: finish, always: mode === 'learn' },
  });
  if (beforeCopy !== undefined) rmSync(dirname(beforeCopy), { recursive: true, force: true });
  process.stderr.write(
    `leash: cannot hand over to ${options.waiter} (${failure.message}); waiting in Node\n`,
  );
}
