/**
 * @module
 * Starts leash inside a service: loads the policy, builds one host per enabled module, installs
 * each module's observers and enforcers, and learns through a learner that flushes to the store.
 * A policy that cannot be read stops the start in every mode: enforcing without it would be
 * failing open, and learning over it would overwrite what a person wrote.
 */

import { homedir, tmpdir } from 'node:os';
import { installAdapters } from '../adapters/install.ts';
import { internal } from '../attribution/internal.ts';
import { lazyUse } from '../attribution/package-of.ts';
import { packageResolver } from '../attribution/resolver.ts';
import { currentScope } from '../attribution/scope.ts';
import type { ResolvedConfig } from '../config/load.ts';
import { treeFor } from '../core/policy.ts';
import { type PolicyTree, replaceContents } from '../core/tree.ts';
import { installWorker, isolatedWorkerFd } from '../isolate/worker/install.ts';
import { createLogger, type Logger } from '../log/logger.ts';
import type { ModuleHost, ModuleRegistry } from '../module/module.ts';
import { registryWith } from '../modules/builtin.ts';
import { createFileStore } from '../store/file-store.ts';
import { createLearner, type Learner } from '../store/learner.ts';
import { localityFor } from '../store/locality.ts';
import type { PolicyStore } from '../store/store.ts';
import { createHost } from './host.ts';
import { requirePolicyForEnforce } from './require-policy.ts';
import { installUncaughtRefusal } from './uncaught-refusal.ts';
import { pipedViolations, takeViolationsFd } from './violations-pipe.ts';

export interface Agent {
  readonly config: ResolvedConfig;
  readonly modules: ModuleRegistry;
  /** Hosts of the modules that are not `off`, by module name. */
  readonly hosts: ReadonlyMap<string, ModuleHost>;
  readonly learner: Learner;
  readonly logger: Logger;
  /** Writes what was learned and recorded so far. */
  flush(): void;
  /** Uninstalls every module and flushes a last time. */
  stop(): void;
}

export interface AgentOptions {
  readonly store?: PolicyStore;
  readonly logger?: Logger;
  /**
   * What an enforcing module's ERR_LEASH_UNPATCHED does; default: one line on stderr, exit 2
   * (the service must not run on with statements nothing checks).
   */
  readonly refuseToStart?: (error: Error) => void;
  /** Install the flush timer and exit/signal handlers (default true; tests may drive flushes). */
  readonly autoFlush?: boolean;
  /** Keep the service alive through refusals it never catches (default true; tests in-process may not). */
  readonly uncaughtHandler?: boolean;
}

/** Prepares every enabled module (async work such as loading parsers), then starts the agent. */
export async function startAgentPrepared(
  config: ResolvedConfig,
  options: AgentOptions = {},
): Promise<Agent> {
  for (const module of registryWith(config.modules).values()) {
    if (config.modeOf(module.name) !== 'off') await module.prepare?.();
  }
  return startAgent(config, options);
}

export function startAgent(config: ResolvedConfig, options: AgentOptions = {}): Agent {
  const modules = registryWith(config.modules);
  if (options.store === undefined) requirePolicyForEnforce(config, modules);
  const fileStore =
    options.store ??
    createFileStore({
      file: config.policyFile,
      modules,
      locality: localityFor(config, { tmp: tmpdir(), home: homedir(), env: process.env }),
    });
  const violationsFd = options.store === undefined ? takeViolationsFd() : undefined;
  const store = withoutObservation(
    violationsFd === undefined ? fileStore : pipedViolations(fileStore, violationsFd),
  );
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const policy = store.load();
  const trees = new Map<string, PolicyTree>(policy.modules);
  const hosts = new Map<string, ModuleHost>();
  const learner = createLearner({
    store,
    modules,
    flushIntervalMs: config.flushIntervalMs,
    ...(config.learnExact === true ? {} : { simplifyOptions: config.simplify }),
    // A learning service checks against the saved, simplified policy from then on, so the live
    // tree stays as small as the policy file instead of holding every raw fact.
    onFlush: ({ policy: saved }) => {
      for (const [name, host] of hosts) {
        const tree = saved.modules.get(name);
        if (host.mode === 'learn' && tree !== undefined) replaceContents(host.tree, tree);
      }
    },
  });
  const uninstalls: Array<() => void> = [];
  const packages = packageResolver();
  const use = () => lazyUse(currentScope(), packages);
  const settings = {
    principal: config.principal,
    inputHeaders: config.inputHeaders,
    maxRememberedValues: config.maxRememberedValues,
    learnExact: config.learnExact === true,
    ignoreUnpatched: config.ignoreUnpatched,
    csp: config.csp,
  };
  const refuseToStart = options.refuseToStart ?? refuseAndExit;
  for (const module of modules.values()) {
    const mode = config.modeOf(module.name);
    if (mode === 'off') continue;
    const host = createHost({
      module,
      mode,
      tree: treeFor(trees, module.name, modules),
      policyFile: config.policyFile,
      sink: learner,
      logger,
      appRoot: config.root,
      simplify: config.simplify,
      use,
      settings: { ...settings, own: config.moduleSettings?.get(module.name) },
      refuseToStart,
    });
    hosts.set(module.name, host);
    const uninstall = module.install?.(host);
    if (uninstall) uninstalls.push(uninstall);
  }
  if (hosts.size > 0)
    uninstalls.unshift(
      installAdapters({
        // Frameworks give attribution only: out of range they warn in every mode.
        mode: 'learn',
        warn: (message) => logger.warn({ event: 'unpatched' }, message),
        refuse: refuseToStart,
      }),
    );
  const workerFd = isolatedWorkerFd();
  if (workerFd !== undefined)
    uninstalls.push(
      installWorker(workerFd, { warn: (message) => logger.warn({ event: 'unpatched' }, message) }),
    );
  const enforcing = [...hosts.values()].some((host) => host.mode === 'enforce');
  if (enforcing && config.onUncaughtRefusal === 'log' && options.uncaughtHandler !== false)
    uninstalls.push(installUncaughtRefusal(logger));
  if (options.autoFlush !== false && hosts.size > 0) learner.start();
  let stopped = false;
  return {
    config,
    modules,
    hosts,
    learner,
    logger,
    flush: () => void learner.flush(),
    stop() {
      if (stopped) return;
      stopped = true;
      for (const uninstall of uninstalls.reverse()) uninstall();
      learner.stop();
    },
  };
}

/** One line on stderr and exit 2, as a config or policy that cannot be read stops the start. */
function refuseAndExit(error: Error): void {
  const code = (error as { code?: string }).code;
  process.stderr.write(
    `leash: not starting the service: ${code ? `${code}: ` : ''}${error.message}\n`,
  );
  process.exit(2);
}

/** The store, with its own file I/O hidden from the modules that watch the service's. */
function withoutObservation(store: PolicyStore): PolicyStore {
  return {
    location: store.location,
    load: () => internal(() => store.load()),
    update: (change) => internal(() => store.update(change)),
    loadViolations: () => internal(() => store.loadViolations()),
    recordViolations: (records) => internal(() => store.recordViolations(records)),
    updateViolations: (change) => internal(() => store.updateViolations(change)),
  };
}
