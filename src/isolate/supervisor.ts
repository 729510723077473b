/**
 * @module
 * `leash enforce --isolate`: the supervisor. It holds the front door, the token key, the session
 * table, the database (the credentials for PostgreSQL, the only open handle for SQLite files) and
 * the policy; the service's code runs only in worker processes, one set per group of routes with
 * identical privileges, each in its group's kernel sandbox. Start-up work runs once first, in a
 * start-up process with the process-wide grants alone; the database files it opens are taken out
 * of every worker's sandbox before the workers start.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Readable } from 'node:stream';
import type { IsolateSettings } from '../config/load.ts';
import type { Policy } from '../core/policy.ts';
import { rules } from '../core/tree.ts';
import { isLeashError, LeashError } from '../errors.ts';
import {
  agentPaths,
  compileNodePermissions,
  nodeOptionsWord,
} from '../modules/runtime/exporters/node-flags.ts';
import { endpoint } from '../modules/runtime/wrap-net.ts';
import { resultSources } from '../modules/sql/module.ts';
import { createStatementCache } from '../modules/sql/statement-cache.ts';
import { prepareSqlParsers } from '../modules/sql/template.ts';
import { statusPath } from '../store/file-store.ts';
import type { PolicyStore } from '../store/store.ts';
import type { KernelSupport } from '../supervisor/kernel/helper.ts';
import { serviceKernelRules } from '../supervisor/kernel/plan.ts';
import { launcherArguments } from '../supervisor/kernel/rules.ts';
import { collectViolations } from '../supervisor/violations-pipe.ts';
import { createDispatcher } from './dispatcher.ts';
import type { Gate } from './gate.ts';
import { type Group, type Grouping, groupPolicy, groupRoutes } from './groups.ts';
import { createPgProxy, type PgProxy, upstreamFromUrl } from './pg-proxy.ts';
import {
  frontEndpoint,
  grantsDatabaseFile,
  kernelPathsCoveringFiles,
  reachesDatabaseFile,
  workerKernelRules,
} from './plan.ts';
import { workerPort } from './ports.ts';
import { createRequestRegistry } from './requests.ts';
import { routeTable } from './routes.ts';
import { createSessionTable, sessionPrincipalPath } from './sessions.ts';
import { createSqliteHost, type SqliteHost } from './sqlite-host.ts';
import { createGate, requestOfToken, type WorkerView } from './statement-gate.ts';
import { removeStatus, writeStatus } from './status-file.ts';
import { CHANNEL_FD_ENV } from './sync-channel.ts';
import { createTokenIssuer } from './token.ts';
import { WORKER_DB_ENV, WORKER_PORT_ENV } from './worker/install.ts';
import {
  newSlot,
  startWorkerPool,
  WORKER_CHANNEL_FD,
  type WorkerPool,
  type WorkerProcess,
  type WorkerSlot,
} from './worker-pool.ts';

export interface SupervisorOptions {
  /** The policy, loaded with the machine's locality (ports and paths concrete). */
  readonly policy: Policy;
  readonly policyFile: string;
  readonly configFile: string | undefined;
  /** The service's command. */
  readonly command: readonly string[];
  /** The service's environment as `leash enforce` prepares it (the agent preloaded). */
  readonly env: NodeJS.ProcessEnv;
  readonly settings: IsolateSettings;
  /** The config's `principal` (a session path under isolation). */
  readonly principal: unknown;
  readonly inputHeaders: readonly string[];
  /** The kernel launcher, when the kernel layer is on. */
  readonly kernel: KernelSupport | undefined;
  /** Whether each group's workers also run under Node's permission flags for the group. */
  readonly nodeFlags?: boolean;
  /** Where the workers' violations go. */
  readonly violations?: PolicyStore;
  readonly log: (message: string) => void;
  /** How often `leash status`'s file is rewritten. Default 2 s. */
  readonly statusIntervalMs?: number;
  /** How long the start-up process and the workers may take to listen. Default 120 s. */
  readonly startLimitMs?: number;
}

export interface WorkerStatus {
  readonly name: string;
  readonly pid: number | undefined;
  readonly listening: boolean;
  readonly starts: number;
  readonly requests: number;
  /** Resident memory in KiB, from /proc (undefined when unknown). */
  readonly rssKiB: number | undefined;
}

export interface GroupStatus {
  readonly group: string;
  readonly routes: readonly string[];
  readonly workers: readonly WorkerStatus[];
  readonly refusals: number;
}

export interface Supervisor {
  readonly front: { readonly host: string; readonly port: number };
  readonly grouping: Grouping;
  /** Database files only the supervisor opens. */
  readonly databaseFiles: readonly string[];
  status(): GroupStatus[];
  /**
   * Lets the workers' standard output through (held back until now, so that a script waiting
   * for the service's "listening" line finds leash's port open and leash's own lines printed).
   */
  releaseOutput(): void;
  /** Stops the front door, the workers and the proxies. */
  stop(): Promise<void>;
}

const START_GROUP: Group = { name: 'startup', routes: [], grants: [] };

function rssKiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

function limit<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new LeashError('ERR_LEASH_ISOLATE', `${what} did not listen within ${ms / 1000} s`),
          ),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The PostgreSQL URL the workers see: the proxy asks for no password, so they get none. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  parsed.password = '';
  return parsed.toString();
}

export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const { policy: p, settings } = options;
  const front = frontEndpoint(p);
  const grouping = groupRoutes(p, settings.maxGroups, settings.together, settings.loginRoutes);
  const principalPath = sessionPrincipalPath(options.principal);
  if (options.principal !== undefined && principalPath === undefined)
    throw new LeashError(
      'ERR_LEASH_ISOLATE',
      `--isolate resolves the principal from the session it keeps, so \`principal\` must be a session path (req.session.user), not ${typeof options.principal === 'function' ? 'a function' : JSON.stringify(options.principal)}; see docs/isolation.md`,
    );
  const sql = p.modules.get('sql');
  const tokens = createTokenIssuer({ ttlMs: settings.tokenSeconds * 1000 });
  const requests = createRequestRegistry();
  const sessions = createSessionTable({
    principalPath: principalPath ?? [],
    loginRoutes: new Set(settings.loginRoutes),
  });
  const cache = createStatementCache();
  const wantedResults =
    sql === undefined ? new Set<string>() : resultSources(rules(sql).map((rule) => rule[3] ?? ''));
  const refusals = new Map<string, number>();
  const gateOptions = {
    sql,
    tokens,
    requests,
    cache,
    wantedResults,
    onRefusal: (error: LeashError, worker: WorkerView) => {
      refusals.set(worker.group, (refusals.get(worker.group) ?? 0) + 1);
      options.log(`${worker.name}: ${error.code}: ${error.message}`);
    },
  };

  // PostgreSQL: the proxy holds the credentials; workers reach it instead of the database.
  const databaseUrl = options.env.DATABASE_URL;
  const postgres = databaseUrl !== undefined && /^postgres(?:ql)?:\/\//.test(databaseUrl);
  let proxy: PgProxy | undefined;
  let databaseKey: string | undefined;
  let databasePort: number | undefined;
  if (postgres) {
    const upstream = upstreamFromUrl(databaseUrl);
    const url = new URL(databaseUrl);
    databasePort = Number(url.port || 5432);
    databaseKey = endpoint(url.hostname.replace(/^\[(.*)\]$/, '$1'), databasePort);
    proxy = createPgProxy({ upstream, log: options.log });
    // The proxy parses every statement: libpg-query's WASM must be loaded before the first.
    await prepareSqlParsers();
  }

  // What the service prints ("listening on …") is held back until the front door listens: a
  // script that waits for that line must find leash's port open, not a worker's.
  const held: Buffer[] = [];
  let frontOpen = false;
  const output = (chunk: Buffer) => {
    if (frontOpen) process.stdout.write(chunk);
    else held.push(chunk);
  };

  const databaseFiles = new Set<string>();
  /**
   * The supervisor opens a database file for a worker only when the worker's own group may write
   * it (the process scopes or the group's routes): it opens with the supervisor's rights, so a
   * wider test would let a worker create files where only another group may write.
   */
  const mayOpenFor =
    (own: Policy) =>
    (path: string): boolean => {
      if (!grantsDatabaseFile(own, path)) return false;
      databaseFiles.add(path);
      return true;
    };

  const kernelBase = (group: Group) => {
    if (options.kernel === undefined) return undefined;
    const files = [...databaseFiles];
    const compiled = serviceKernelRules(
      groupPolicy(p, group, (rule) => reachesDatabaseFile(rule, files)),
      options,
    );
    if (compiled.connectAny && databasePort !== undefined)
      options.log(
        `kernel: group ${group.name} may connect to any port (a net.connect rule without one), the database's included: only the credentials it does not have keep it from the database`,
      );
    for (const path of kernelPathsCoveringFiles(compiled, files))
      options.log(
        `kernel: group ${group.name} may open ${path}, which holds the database file: the kernel cannot keep its workers from the file (the in-process layer still refuses); keep the database outside the service's other directories`,
      );
    return compiled;
  };

  /** The group's Node permission flags (what the agent reads beside its grants), or none. */
  const nodeFlagsFor = (group: Group): string[] => {
    if (options.nodeFlags !== true) return [];
    // Unlike the kernel's, these keep the rules that reach the database file: Node refuses even
    // `mkdir -p` of an existing directory (the start-up's `<data>/*`) without a grant, and the
    // file itself is the kernel's to keep from the worker.
    const compiled = compileNodePermissions(groupPolicy(p, group), {
      extraRead: agentPaths({ file: options.configFile, policyFile: options.policyFile }).read,
    });
    for (const warning of compiled.warnings) options.log(`node flags of ${group.name}: ${warning}`);
    return compiled.flags;
  };

  // Per group, computed once when its first worker is made (the start-up group's before the
  // database files are known, every other group's after).
  const setups = new Map<
    string,
    {
      kernel: ReturnType<typeof kernelBase>;
      nodeFlags: string[];
      mayOpen: (path: string) => boolean;
    }
  >();
  const setupOf = (group: Group) => {
    let setup = setups.get(group.name);
    if (setup === undefined) {
      setup = {
        kernel: kernelBase(group),
        nodeFlags: nodeFlagsFor(group),
        mayOpen: mayOpenFor(groupPolicy(p, group)),
      };
      setups.set(group.name, setup);
    }
    return setup;
  };
  const hosts: SqliteHost[] = [];
  // The ports given to workers, so that two workers chosen before either listens get two.
  const ports = new Set<number>();
  const portFor = async () => {
    const port = await workerPort({ avoid: ports });
    ports.add(port);
    return port;
  };

  const specFor = async (group: Group, index: number) => {
    const { kernel, nodeFlags, mayOpen } = setupOf(group);
    const name = `${group.name}#${index}`;
    const slot = newSlot(name, group.name, await portFor());
    const view: WorkerView = {
      group: group.name,
      name,
      started: () => slot.started,
    };
    const gate: Gate = createGate(gateOptions, view);
    // One host per process: a worker that is gone holds no connection, its successor starts clean.
    let host = createSqliteHost({ mayOpen, gate });
    const hostAt = hosts.push(host) - 1;
    const listener = proxy === undefined ? undefined : await proxy.listen(gate);
    /** The worker's process for a port: the port is in its environment and its kernel rules. */
    const processAt = (port: number): WorkerProcess => {
      const env: NodeJS.ProcessEnv = {
        ...options.env,
        [CHANNEL_FD_ENV]: String(WORKER_CHANNEL_FD),
        [WORKER_PORT_ENV]: String(port),
      };
      delete env.PGPASSWORD;
      if (nodeFlags.length > 0)
        env.NODE_OPTIONS = [env.NODE_OPTIONS, ...nodeFlags.map(nodeOptionsWord)]
          .filter(Boolean)
          .join(' ');
      if (listener !== undefined && databaseKey !== undefined) {
        env[WORKER_DB_ENV] = `${databaseKey}=${listener.port}`;
        env.DATABASE_URL = withoutPassword(databaseUrl!);
      }
      const command =
        kernel === undefined || options.kernel?.helper === undefined
          ? options.command
          : (() => {
              const rules = workerKernelRules(kernel, {
                port,
                proxyPorts: listener === undefined ? [] : [listener.port],
                databasePorts: databasePort === undefined ? [] : [databasePort],
              });
              return [
                options.kernel.helper,
                ...launcherArguments(rules),
                rules.executable,
                ...options.command,
              ];
            })();
      return { port, command, env };
    };
    const first = processAt(slot.port);
    return {
      slot,
      command: first.command,
      env: first.env,
      // Another process took the port between its choice and the worker's bind (the worker
      // said so). Its kernel rules allow binding that port alone, so the worker cannot simply
      // be restarted: it is started as a new process, built for a new port, as a first one is.
      movePort: async () => {
        const taken = slot.port;
        const next = processAt(await portFor());
        ports.delete(taken);
        options.log(
          `worker ${name}: port ${taken} was taken by another process before it listened; starting it on port ${next.port}`,
        );
        return next;
      },
      handle: (message: { readonly kind: string } & Record<string, unknown>) => {
        if (message.kind === 'sqlite') return host.handle(message);
        if (message.kind === 'session') {
          const token = message.token;
          const record =
            typeof token === 'string' ? requestOfToken(gateOptions, token, view) : undefined;
          return sessions.handle(String(message.op), message.sid, message.json, record);
        }
        throw new LeashError(
          'ERR_LEASH_DENIED',
          `isolation channel: unknown message ${JSON.stringify(message.kind)}`,
        );
      },
      stdout: output,
      violations: (stream: Readable) => {
        if (options.violations !== undefined)
          void collectViolations(stream, options.violations, (m) => options.log(`${name}: ${m}`));
        else stream.resume();
      },
      exited: (exited: WorkerSlot, code: number | null, signal: string | null) => {
        host.close();
        host = createSqliteHost({ mayOpen, gate });
        hosts[hostAt] = host;
        if (!stopping)
          options.log(`worker ${exited.name} exited (${signal ?? code}); starting it again`);
      },
    };
  };

  let stopping = false;
  const pools = new Map<string, WorkerPool>();
  const startLimit = options.startLimitMs ?? 120_000;
  try {
    // Start-up first, alone: migrations and seeding happen once, before any route can run.
    const startupSpec = await specFor(START_GROUP, 1);
    const startup = startWorkerPool([startupSpec]);
    try {
      await limit(startup.ready(), startLimit, 'the start-up process');
    } finally {
      stopping = true;
      await startup.stop();
      stopping = false;
    }
    for (const group of grouping.groups) {
      const specs: Awaited<ReturnType<typeof specFor>>[] = [];
      for (let i = 1; i <= settings.workers; i++) specs.push(await specFor(group, i));
      const pool = startWorkerPool(specs);
      pools.set(group.name, pool);
    }
    await limit(
      Promise.all([...pools.values()].map((pool) => pool.ready())),
      startLimit,
      'a worker',
    );
  } catch (error) {
    stopping = true;
    await Promise.all([...pools.values()].map((pool) => pool.stop()));
    for (const host of hosts) host.close();
    await proxy?.close();
    throw error;
  }

  // Scaling: when even the least busy worker of a group has `scaleAt` requests in flight, one more
  // is started, while the workers of all groups stay within `maxWorkers`. Never down: a worker's
  // memory may hold what a later request of its group needs.
  const growing = new Set<string>();
  const pick = (name: string): WorkerSlot | undefined => {
    const pool = pools.get(name);
    const slot = pool?.pick();
    if (pool === undefined || slot === undefined || slot.inFlight < settings.scaleAt) return slot;
    const total = [...pools.values()].reduce((n, p) => n + p.slots.length, 0);
    const group = grouping.groups.find((g) => g.name === name);
    if (group !== undefined && total < settings.maxWorkers && !growing.has(name) && !stopping) {
      growing.add(name);
      void specFor(group, pool.slots.length + 1)
        .then((spec) => pool.add(spec))
        .then(() => options.log(`group ${name} scaled to ${pool.slots.length} workers`))
        .catch((error: Error) => options.log(`group ${name} could not scale: ${error.message}`))
        .finally(() => growing.delete(name));
    }
    return slot;
  };

  const server = http.createServer(
    createDispatcher({
      table: routeTable(grouping.groupOf.keys()),
      groupOf: grouping.groupOf,
      pick,
      tokens,
      requests,
      principalOf: (ids) => sessions.principalOf(ids),
      inputHeaders: options.inputHeaders,
      tokenMs: settings.tokenSeconds * 1000,
      maxBodyBytes: settings.maxBodyBytes,
      log: options.log,
    }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        isLeashError(error)
          ? error
          : new LeashError(
              'ERR_LEASH_ISOLATE',
              `--isolate cannot listen on ${endpoint(front.host, front.port)}: ${error.message}`,
            ),
      ),
    );
    server.listen(front.port, front.host, () => resolve());
  });

  const status = (): GroupStatus[] =>
    grouping.groups.map((group) => ({
      group: group.name,
      routes: group.routes,
      refusals: refusals.get(group.name) ?? 0,
      workers: (pools.get(group.name)?.slots ?? []).map((slot) => ({
        name: slot.name,
        pid: slot.pid,
        listening: slot.started,
        starts: slot.starts,
        requests: slot.requests,
        rssKiB: rssKiB(slot.pid),
      })),
    }));
  const statusFile = statusPath(options.policyFile);
  const since = new Date().toISOString();
  const report = () => {
    try {
      writeStatus(statusFile, {
        pid: process.pid,
        front: endpoint(front.host, front.port),
        since,
        updated: new Date().toISOString(),
        groups: status(),
      });
    } catch (error) {
      options.log(`cannot write ${statusFile}: ${(error as Error).message}`);
    }
  };
  report();
  const reporting = setInterval(report, options.statusIntervalMs ?? 2000);
  reporting.unref();

  return {
    front,
    grouping,
    databaseFiles: [...databaseFiles],
    status,
    releaseOutput() {
      frontOpen = true;
      for (const chunk of held.splice(0)) process.stdout.write(chunk);
    },
    async stop() {
      clearInterval(reporting);
      removeStatus(statusFile);
      stopping = true;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all([...pools.values()].map((pool) => pool.stop()));
      for (const host of hosts) host.close();
      await proxy?.close();
    },
  };
}
