/**
 * @module
 * The end-to-end benchmark: the example service (examples/service) under load, in eight
 * configurations measured in one run, interleaved in rounds.
 *
 * | id              | the service runs as                                                   |
 * |-----------------|-----------------------------------------------------------------------|
 * | baseline        | plain `node server.ts`                                                |
 * | node-flags      | `node <flags> server.ts`, flags from `leash export node-flags`        |
 * | learn           | `leash learn -- node server.ts`                                       |
 * | report          | `leash report -- node server.ts`                                      |
 * | enforce-process | `leash enforce --layer=process -- node server.ts` (in-process checks) |
 * | enforce-both    | `leash enforce --layer=both -- node server.ts` (in process + Node's flags) |
 * | enforce-kernel  | `leash enforce -- node server.ts` (every layer: + Landlock and seccomp) |
 * | enforce-isolate | `leash enforce --isolate -- node server.ts` (leash is the front door; the routes run in sandboxed worker processes, one per group) |
 *
 * How: the policy is learned from the learning workload once; each configuration runs on ports
 * of its own, with that policy's ports changed to its own (what it would have learned there); all eight services are started side by side on the same data
 * directory and database; each must pass the held-out workload with no failure; then autocannon,
 * in its own process pinned to the other core, replays a fixed mix of the held-out workload's
 * legitimate requests (three users logged in, with their session cookies). Each round measures
 * every configuration once, in an order rotated from round to round, so machine noise hits all
 * of them alike; each measurement is a fixed number of requests after a short warm-up.
 *
 * Measured per configuration and round: CPU time (user + system) of the node process that runs
 * the service per request, requests/s, p50 and p99 latency, peak RSS (reset before each
 * measurement), PSS at the end of the measurement, and the CPU of the `leash` CLI process that
 * wraps the service (it only waits).
 *
 * Isolation (enforce-isolate) runs the service as several processes, so its figures are summed
 * over the process tree: the `leash` supervisor (front door, dispatcher, SQLite host or
 * PostgreSQL proxy) plus each of its worker processes (its direct children, each a
 * `node server.ts`), listed at the start and again at the end of each measurement (a worker
 * started meanwhile counts from its start). CPU/request is the sum of their CPU deltas; peak RSS
 * is the sum of each process's own peak (VmHWM, each reset before the measurement: an upper bound
 * of the tree's simultaneous peak, and it counts shared pages once per process); PSS is the sum of
 * their PSS at the end (shared pages split between the processes). As in every configuration,
 * the short-lived processes the service itself starts (GET /ping's host lookup) are not counted.
 * The supervisor needs the config's `principal` and `isolate` settings (the example's config
 * has them; else the bench writes a config of its own and learns a policy with it) and the same
 * SESSION_SECRET in every worker, which every configuration gets.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningExample, startExample } from '../examples/service/start.ts';
import { passwordOf } from '../examples/service/users.ts';
import { heldOutWorkload, learningWorkload } from '../examples/service/workload.ts';
import {
  CONFIGURATIONS,
  type Configuration,
  countRules,
  exportNodeFlags,
  freePorts,
  isIsolated,
  serverCommand,
  servicePidOf,
  shorten,
  withPorts,
} from './lib/configurations.ts';
import { LoadGenerator } from './lib/load-generator.ts';
import { childrenOf, pin, pinTree } from './lib/proc.ts';
import type { Measured, ScenarioOptions, VariantResult } from './lib/rounds.ts';
import {
  emptyResult,
  endLeftover,
  isolationOf,
  measureRounds,
  processesOf,
  setupOf,
} from './lib/rounds.ts';
import type { LoadRequest } from './load.ts';
import { sqlModuleStatus } from './sql-support.ts';

export type { VariantResult } from './lib/rounds.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);
const SERVICE_DIR = join(REPO, 'examples', 'service');

export type VariantName = 'sqlite' | 'postgres';

/** Every worker of an isolated service signs session cookies with it; every configuration gets it. */
const SESSION_SECRET = 'leash-bench-session-secret';

/** What `--isolate` needs of the example's config (docs/isolation.md, test/adversarial). */
const ISOLATE_SETTINGS = {
  principal: 'req.session.user',
  isolate: {
    loginRoutes: ['POST /login', 'POST /login-legacy'],
    together: [['POST /export', 'GET /export/:id']],
  },
} as const;

export interface ServiceBenchOptions extends ScenarioOptions {
  readonly variants: readonly VariantName[];
}

interface Running extends Measured {
  config: Configuration;
  example: RunningExample;
  mix: LoadRequest[];
}

/**
 * The held-out workload's users and what they use (examples/service/workload.ts, HELD_OUT). The
 * host lookup uses 127.0.0.1 for everyone: `getent hosts localhost` also asks the DNS server for
 * an IPv6 address when /etc/hosts has no `::1 localhost` line, a query that leaves the machine
 * (and, with no answer, stalls the request for seconds).
 */
const HELD_OUT_USERS = [
  {
    user: 'erin',
    note: 'Garden plan',
    search: 'Garden',
    file: 'seeds.txt',
    city: 'Berlin',
    host: '127.0.0.1',
    preview: '/?from=preview',
  },
  {
    user: 'frank',
    note: 'Taxes',
    search: 'Tax',
    file: 'budget.txt',
    city: 'Nairobi',
    host: '127.0.0.1',
    preview: '/static/style.css',
  },
  {
    user: 'alice',
    note: 'Birthday ideas',
    search: 'ideas',
    file: 'journal.txt',
    city: 'Vienna',
    host: '127.0.0.1',
    adminWrite: 'footer.txt',
  },
] as const;

interface Ports {
  server: number;
  partner: number;
  metadata: number;
}

/** A server, partner and metadata port for each of `n` configurations, all distinct. */
async function portSets(n: number): Promise<Ports[]> {
  const free = await freePorts(n * 3);
  return Array.from({ length: n }, (_, i) => ({
    server: free[3 * i]!,
    partner: free[3 * i + 1]!,
    metadata: free[3 * i + 2]!,
  }));
}

/**
 * The learning run's ports and one configuration's (the server's listening port, the partner API
 * it calls, its own pages it previews), for withPorts.
 */
const portPairs = (from: Ports, to: Ports): Array<[number, number]> =>
  (['server', 'partner', 'metadata'] as const).map((key) => [from[key], to[key]]);

/** Logs in through /login and returns the session cookie. */
async function login(base: string, user: string): Promise<string> {
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password: passwordOf(user) }),
  });
  if (!res.ok) throw new Error(`login as ${user}: ${res.status} ${await res.text()}`);
  const cookie = res.headers
    .getSetCookie()
    .map((line) => line.split(';', 1)[0] ?? '')
    .find((pair) => pair.startsWith('sid='));
  if (cookie === undefined) throw new Error(`login as ${user}: no session cookie`);
  return cookie;
}

interface Note {
  id: number;
  title: string;
  body: string;
}

/**
 * The request mix: for each held-out user, the legitimate requests of the held-out workload that
 * can be repeated without growing the data (reads, and writes that store the same content again).
 * Left out: creating notes and sharing (each repetition would add rows), logins (sessions), the
 * export job (a new archive per request).
 */
export async function buildMix(base: string): Promise<LoadRequest[]> {
  const q = encodeURIComponent;
  const out: LoadRequest[] = [];
  for (const plan of HELD_OUT_USERS) {
    const cookie = await login(base, plan.user);
    const headers = { cookie };
    const json = { cookie, 'content-type': 'application/json' };
    const notesRes = await fetch(`${base}/notes`, { headers });
    const notes = (await notesRes.json()) as Note[];
    const note = notes.find((n) => n.title.startsWith(plan.note)) ?? notes[0];
    if (note === undefined) throw new Error(`${plan.user} has no note`);
    const content = `${plan.file} of ${plan.user}\n`;
    const get = (path: string): LoadRequest => ({ method: 'GET', path, headers });
    out.push(
      get('/'),
      get('/static/style.css'),
      get('/me'),
      get('/notes'),
      get(`/notes/${note.id}`),
      get(`/notes/${note.id}/view`),
      get(`/search?q=${q(plan.search)}`),
      get(`/search-legacy?q=${q(plan.search)}`),
      get(`/notes-legacy/${note.id}`),
      get('/shared'),
      get('/files'),
      get(`/files/${q(plan.file)}`),
      get(`/download?file=${q(`${plan.user}/${plan.file}`)}`),
      get(`/weather?city=${q(plan.city)}`),
      {
        method: 'PUT',
        path: `/notes/${note.id}`,
        headers: json,
        body: JSON.stringify({ title: note.title, body: note.body }),
      },
      {
        method: 'PUT',
        path: `/notes-legacy/${note.id}`,
        headers: json,
        body: JSON.stringify({ body: note.body }),
      },
      {
        method: 'POST',
        path: `/upload?name=${q(plan.file)}`,
        headers: { cookie, 'content-type': 'application/octet-stream' },
        body: content,
      },
      get(`/ping?host=${q(plan.host)}`),
    );
    if ('preview' in plan) out.push(get(`/preview?url=${q(base + plan.preview)}`));
    if ('adminWrite' in plan) {
      out.push({
        method: 'POST',
        path: '/admin/write',
        headers: json,
        body: JSON.stringify({
          path: plan.adminWrite,
          content: `${plan.adminWrite} set by ${plan.user}\n`,
        }),
      });
    }
  }
  return out;
}

/** Sends every request of the mix once; throws on any answer outside 2xx. */
async function checkMix(base: string, mix: readonly LoadRequest[]): Promise<void> {
  for (const r of mix) {
    const res = await fetch(base + r.path, {
      method: r.method,
      headers: r.headers ?? {},
      ...(r.body === undefined ? {} : { body: r.body }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${r.method} ${r.path}: ${res.status} ${text.slice(0, 300)}`);
  }
}

/**
 * Whether the example's config has what `--isolate` needs (a session principal, the login routes,
 * the export routes together, one worker per group): then the isolated configuration runs with it
 * and with the policy every configuration shares.
 */
function exampleConfigFitsIsolation(config: Record<string, unknown> | undefined): boolean {
  if (config === undefined) return false;
  const isolate = config.isolate as
    | { loginRoutes?: unknown; together?: unknown; workers?: unknown }
    | undefined;
  if (config.principal !== ISOLATE_SETTINGS.principal || typeof isolate !== 'object') return false;
  const logins = Array.isArray(isolate.loginRoutes) ? (isolate.loginRoutes as unknown[]) : [];
  const together = Array.isArray(isolate.together) ? (isolate.together as unknown[]) : [];
  const wanted = ISOLATE_SETTINGS.isolate.together[0];
  return (
    ISOLATE_SETTINGS.isolate.loginRoutes.every((r) => logins.includes(r)) &&
    together.some(
      (group) => Array.isArray(group) && wanted.every((route) => group.includes(route)),
    ) &&
    (isolate.workers === undefined || isolate.workers === 1)
  );
}

/** The example's leash.config.json, parsed (undefined when there is none). */
function exampleConfig(): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(join(SERVICE_DIR, 'leash.config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return undefined;
  }
}

/** Whether a config asks for isolation (`isolate: true`, or an object without `enabled: false`). */
function configIsolates(config: Record<string, unknown> | undefined): boolean {
  const isolate = config?.isolate;
  if (isolate === true) return true;
  return (
    typeof isolate === 'object' &&
    isolate !== null &&
    (isolate as { enabled?: unknown }).enabled !== false
  );
}

/**
 * The test server allows 50 connections. The example keeps a pool of 5 per process: seven
 * single-process services hold 35, and the isolated one 5 per worker (40 for 8 workers, each
 * through its own proxy connection upstream), so the bench's server needs more.
 */
const MAX_CONNECTIONS = 200;

/** `ALTER SYSTEM SET max_connections`, then `pg_ctl restart` as the server's own user. */
async function raiseMaxConnections(
  server: { url: string; dir: string },
  pgCtl: string,
  max: number,
): Promise<void> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query(`ALTER SYSTEM SET max_connections = ${max}`);
  } finally {
    await client.end();
  }
  const data = join(server.dir, 'data');
  // The server runs as its data directory's owner (`nobody` when the bench runs as root).
  const owner = statSync(data);
  const as = process.getuid?.() === 0 ? { uid: owner.uid, gid: owner.gid } : {};
  execFileSync(
    pgCtl,
    ['restart', '-D', data, '-m', 'fast', '-w', '-t', '90', '-l', join(server.dir, 'server.log')],
    { cwd: server.dir, stdio: 'ignore', timeout: 120_000, ...as },
  );
}

export async function runServiceBench(options: ServiceBenchOptions): Promise<VariantResult[]> {
  const out: VariantResult[] = [];
  if (options.pin) pin(process.pid, options.loadCpu);
  for (const variant of options.variants) out.push(await runVariant(variant, options));
  return out;
}

async function runVariant(
  variant: VariantName,
  options: ServiceBenchOptions,
): Promise<VariantResult> {
  const { log } = options;
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const leashRoot = options.leashRoot ?? REPO;
  const leashBin = join(leashRoot, 'bin', 'leash.js');
  const result = emptyResult(variant, options);

  let stopPostgres: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  if (variant === 'postgres') {
    // ---- the PostgreSQL variant needs the sql module (see bench/sql-support.ts) ----
    const sql = await sqlModuleStatus();
    if (!sql.available) {
      log(`postgres: sql module not available yet (${sql.reason}); skipped`);
      return { ...result, skipped: `sql module not available yet: ${sql.reason}` };
    }
    try {
      const { findPostgresBin, startPostgres } = await import('../test/support/postgres.ts');
      const pg = await startPostgres();
      stopPostgres = () => pg.stop();
      await raiseMaxConnections(pg, join(findPostgresBin()!, 'pg_ctl'), MAX_CONNECTIONS);
      log(
        `postgres: max_connections raised to ${MAX_CONNECTIONS} (each service process keeps a pool of 5; an isolated service has one per worker)`,
      );
      databaseUrl = pg.url;
      if (options.pin) {
        const pidFile = readFileSync(join(pg.dir, 'data', 'postmaster.pid'), 'utf8');
        pinTree(Number(pidFile.split('\n')[0]), options.loadCpu);
      }
    } catch (error) {
      const reason = (error as Error).message.split('\n')[0] ?? 'unknown';
      log(`postgres: cannot start PostgreSQL (${reason}); skipped`);
      return { ...result, skipped: `cannot start PostgreSQL: ${reason}` };
    }
  }

  const work = mkdtempSync(join(tmpdir(), `leash-bench-${variant}-`));
  const dataDir = join(work, 'data');
  const learned = join(work, 'learned', 'leash.policy.json');
  mkdirSync(dirname(learned), { recursive: true });
  const ports = await portSets(CONFIGURATIONS.length);
  // One session secret for every configuration: an isolated service's workers must share it.
  const env = { LEASH_CONFIG: '', LEASH_MODE: '', NO_COLOR: '1', SESSION_SECRET };
  // The example's config (found in its directory) serves every configuration, the isolated one
  // included when it has `principal` and `isolate` as --isolate needs them. Else the isolated one
  // gets a config of its own in $WORK/isolate-app, which makes that directory its `{app}` root,
  // so its policy is learned with that config too (the data dir named by `envRoots`, outside it).
  const exampleSettings = exampleConfig();
  const ownIsolateConfig =
    process.env.LEASH_BENCH_OWN_ISOLATE_CONFIG === '1' ||
    !exampleConfigFitsIsolation(exampleSettings);
  const isolateConfigFile = join(work, 'isolate-app', 'leash.config.json');
  const learnedIsolate = join(work, 'learned-isolate', 'leash.policy.json');
  const running: Running[] = [];
  const examples: RunningExample[] = [];
  let generator: LoadGenerator | undefined;
  const learn = async (policyFile: string, extraEnv: Record<string, string>) => {
    const service = await startExample({
      dataDir,
      cwd: SERVICE_DIR,
      ports: ports[0]!,
      env: { ...env, ...extraEnv },
      ...(databaseUrl === undefined ? {} : { databaseUrl }),
      wrap: (command) => [
        process.execPath,
        leashBin,
        'learn',
        '--policy',
        policyFile,
        '--',
        ...command,
      ],
    });
    try {
      const summary = await learningWorkload(service.base);
      if (summary.failures.length > 0) {
        log(
          `learning: ${summary.failures.length} failures: ${JSON.stringify(summary.failures.slice(0, 3))}`,
        );
      }
    } finally {
      await service.stop();
    }
  };
  try {
    // 1. Learn: the learning workload, once, on the first port set.
    await learn(learned, {});
    result.policyRules = countRules(learned);
    log(`${variant}: learned ${result.policyRules} rules (${elapsed()})`);
    if (ownIsolateConfig) {
      mkdirSync(dirname(isolateConfigFile), { recursive: true });
      mkdirSync(dirname(learnedIsolate), { recursive: true });
      writeFileSync(
        isolateConfigFile,
        `${JSON.stringify({ ...ISOLATE_SETTINGS, envRoots: ['DATA_DIR'] }, null, 2)}\n`,
      );
      await learn(learnedIsolate, { LEASH_CONFIG: isolateConfigFile });
      log(
        `${variant}: ${exampleConfigFitsIsolation(exampleSettings) ? 'LEASH_BENCH_OWN_ISOLATE_CONFIG=1' : 'examples/service/leash.config.json lacks what --isolate needs'}; learned ${countRules(learnedIsolate)} rules with $WORK/isolate-app/leash.config.json for enforce-isolate (${elapsed()})`,
      );
    }

    // 2. Start every configuration, each with its own copy of the policy.
    const starts = CONFIGURATIONS.map(async (config, i) => {
      const isolated = isIsolated(config);
      const own = isolated && ownIsolateConfig;
      const policyFile = join(work, config.id, 'leash.policy.json');
      mkdirSync(dirname(policyFile), { recursive: true });
      // The policy this configuration would have learned on its own ports (the isolated one's
      // front door is its net.listen port, {env:PORT} or a number changed here).
      writeFileSync(
        policyFile,
        withPorts(
          readFileSync(own ? learnedIsolate : learned, 'utf8'),
          portPairs(ports[0]!, ports[i]!),
        ),
      );
      const flags =
        config.run.kind === 'flags'
          ? await exportNodeFlags(leashBin, policyFile, SERVICE_DIR, ports[i]!.server)
          : [];
      if (config.run.kind === 'flags') result.nodeFlags = flags;
      const { wrap, nodeOptions } = serverCommand(
        config,
        leashBin,
        policyFile,
        flags,
        configIsolates(exampleSettings),
      );
      const example = await startExample({
        dataDir,
        cwd: SERVICE_DIR,
        ports: ports[i]!,
        env: own ? { ...env, LEASH_CONFIG: isolateConfigFile } : env,
        nodeOptions,
        ...(wrap === undefined ? {} : { wrap }),
        ...(databaseUrl === undefined ? {} : { databaseUrl }),
        // The supervisor starts nine processes, one after the other, beside seven other services
        // starting on two cores; it gives them 120 s.
        ...(isolated ? { timeoutMs: 150_000 } : {}),
      });
      const pids = servicePidOf(example.processes.server.pid!, wrap !== undefined, isolated);
      if (options.pin) {
        pinTree(example.processes.server.pid!, options.serviceCpu);
        pinTree(example.processes.partner.pid!, options.loadCpu);
        pinTree(example.processes.metadata.pid!, options.loadCpu);
        pinTree(example.processes.cdn.pid!, options.loadCpu);
      }
      const command = wrap
        ? wrap([process.execPath, ...nodeOptions, 'server.ts'])
        : [process.execPath, ...nodeOptions, 'server.ts'];
      return { config, example, pids, command, isolated, own };
    });
    const settled = await Promise.allSettled(starts);
    for (const [i, s] of settled.entries()) {
      const config = CONFIGURATIONS[i]!;
      if (s.status === 'rejected') {
        const error = (s.reason as Error).message.slice(0, 2000);
        log(`${variant}/${config.id}: did not start: ${error}`);
        result.configurations.push(setupOf(config, '', { error }));
        continue;
      }
      const { example, pids, command, isolated, own } = s.value;
      examples.push(example);
      running.push({
        config,
        example,
        base: example.base,
        ...processesOf(pids, isolated),
        mix: [],
        stderr: () => example.output().stderr,
      });
      result.configurations.push(
        setupOf(
          config,
          own ? '$WORK/isolate-app/leash.config.json' : 'examples/service/leash.config.json',
          { command: shorten(command, work), isolated },
        ),
      );
    }
    if (!running.some((r) => r.config.id === 'baseline'))
      throw new Error('the baseline did not start');
    log(`${variant}: ${running.length} configurations started (${elapsed()})`);

    // 3. The held-out workload on each (must pass), then the request mix (must pass too).
    for (const r of running) {
      const setup = result.configurations.find((c) => c.id === r.config.id)!;
      const held = await heldOutWorkload(r.example.base);
      setup.heldOutRequests = held.requests;
      setup.heldOutFailures = held.failures.length;
      if (held.failures.length > 0) {
        log(
          `${variant}/${r.config.id}: held-out workload: ${held.failures.length} failures, e.g. ${JSON.stringify(held.failures.slice(0, 3))}`,
        );
      }
      if (r.tree) {
        const isolation = isolationOf(r.example.output().stderr);
        if (isolation !== undefined) setup.isolation = isolation;
        const workers = childrenOf(r.servicePid);
        log(
          `${variant}/${r.config.id}: ${isolation === undefined ? 'no "leash: isolate:" line on stderr' : `${isolation.groups} groups, ${isolation.workers} workers (${isolation.layers})`}; ${workers.length} worker processes under the supervisor`,
        );
      }
    }
    for (const r of [...running]) {
      try {
        r.mix = await buildMix(r.example.base);
        await checkMix(r.example.base, r.mix);
      } catch (error) {
        const setup = result.configurations.find((c) => c.id === r.config.id)!;
        setup.error = `request mix: ${(error as Error).message}`;
        log(`${variant}/${r.config.id}: ${setup.error}`);
        running.splice(running.indexOf(r), 1);
      }
    }
    const baseline = running.find((r) => r.config.id === 'baseline');
    if (baseline === undefined) throw new Error('the baseline failed the request mix');
    log(`${variant}: held-out workload and request mix checked on each (${elapsed()})`);
    result.mix = baseline.mix.map(
      (r) =>
        `${r.method} ${decodeURIComponent(r.path)
          .replace(/\/notes(-legacy)?\/\d+/, '/notes$1/:id')
          .replace(/http:\/\/127\.0\.0\.1:\d+/, '<self>')}`,
    );

    generator = new LoadGenerator(options);
    await measureRounds(generator, running, options, result, variant, elapsed);
  } finally {
    generator?.close();
    await Promise.all(examples.map((example) => example.stop()));
    // An isolated service's workers run in process groups of their own: the supervisor ends them
    // on SIGTERM; any it left (it was killed) are ended here, by the ids this run measured.
    for (const r of running) if (r.tree) for (const pid of r.seen) endLeftover(pid);
    await stopPostgres?.();
    rmSync(work, { recursive: true, force: true });
  }
  result.seconds = (Date.now() - started) / 1000;
  return result;
}
