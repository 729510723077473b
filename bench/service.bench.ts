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
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RunningExample, startExample } from '../examples/service/start.ts';
import { passwordOf } from '../examples/service/users.ts';
import { heldOutWorkload, learningWorkload } from '../examples/service/workload.ts';
import {
  childrenOf,
  commandOf,
  cpuSeconds,
  cpuTime,
  peakRss,
  pin,
  pinTree,
  pss,
  resetPeakRss,
} from './lib/proc.ts';
import type { LoadRequest, LoadResult, LoadSpec } from './load.ts';
import { sqlModuleStatus } from './sql-support.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);
const SERVICE_DIR = join(REPO, 'examples', 'service');
const LOAD_SCRIPT = join(HERE, 'load.ts');

export type VariantName = 'sqlite' | 'postgres';

export interface Configuration {
  readonly id: string;
  readonly label: string;
  /** How the server's command line is built. */
  readonly run:
    | { readonly kind: 'plain' }
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

export interface ServiceBenchOptions {
  readonly variants: readonly VariantName[];
  readonly rounds: number;
  readonly connections: number;
  /** Each measurement is sized to take about this long on the baseline (fixed request count). */
  readonly seconds: number;
  /** Warm-up before the rounds, per configuration, seconds of baseline traffic. */
  readonly warmupSeconds: number;
  /** Warm-up right before each measurement (not measured), seconds of baseline traffic. */
  readonly rewarmSeconds: number;
  /** Pin the services to `serviceCpu` and everything else to `loadCpu`. */
  readonly pin: boolean;
  readonly serviceCpu: string;
  readonly loadCpu: string;
  /** Which leash checkout's CLI to run (default: this repository). */
  readonly leashRoot?: string;
  readonly log: (line: string) => void;
}

export interface Measurement {
  round: number;
  /** Position in the round (0 = measured first). */
  slot: number;
  config: string;
  requests: number;
  non2xx: number;
  errors: number;
  seconds: number;
  /**
   * Service CPU time (user + sys) per request, milliseconds: of the node process running
   * server.ts, or for an isolated service of the leash supervisor and all its workers together.
   */
  cpuPerRequestMs: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Peak RSS (VmHWM) of the service process, or the sum of each measured process's peak. */
  peakRssMb: number;
  /** PSS at the end of the measurement, summed over the measured processes (NaN: unreadable). */
  pssMb: number;
  /**
   * CPU time of the `leash` CLI process over the measurement, milliseconds (null: none). It waits
   * for the service, except under --isolate, where it is the supervisor and its CPU is part of
   * the service's.
   */
  wrapperCpuMs: number | null;
  /** Service CPU over the measurement, milliseconds. */
  serviceCpuMs: number;
  /** Processes whose CPU and memory are summed (1: the service process alone). */
  processes: number;
  /** Measured processes that ended during the measurement (their last CPU is lost: should be 0). */
  processesLost: number;
  /** Processes that started during the measurement (a worker restarted: should be 0). */
  processesStarted: number;
}

export interface ConfigurationSetup {
  id: string;
  label: string;
  /** The server's command line as started (paths shortened). */
  command: string;
  heldOutRequests: number;
  heldOutFailures: number;
  /** Which processes the CPU and memory figures cover. */
  measures: string;
  /** The config file the service ran with (relative to the repository or $WORK). */
  configFile: string;
  /** Under --isolate: what the supervisor printed at start. */
  isolation?: {
    groups: number;
    workers: number;
    layers: string;
    /** `g1: GET /, GET /clock — 4 grants`, one per group. */
    table: string[];
  };
  error?: string;
}

export interface VariantResult {
  variant: VariantName;
  skipped?: string;
  /** Requests per measurement. */
  amount: number;
  connections: number;
  rounds: number;
  mix: string[];
  policyRules: number;
  nodeFlags: string[];
  configurations: ConfigurationSetup[];
  measurements: Measurement[];
  /** Whether peak RSS could be reset before each measurement (else it is the lifetime peak). */
  rssReset: boolean;
  pinned: boolean;
  seconds: number;
}

interface Running {
  config: Configuration;
  example: RunningExample;
  /** The node process that runs server.ts. */
  servicePid: number;
  /** The `leash` CLI process wrapping it, when there is one. */
  wrapperPid: number | undefined;
  /** Whether the service is a tree (--isolate): the leash supervisor and its worker processes. */
  tree: boolean;
  /** Every process counted so far (to make sure none outlives the run). */
  seen: Set<number>;
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

async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer().listen(0, host);
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Ports {
  server: number;
  partner: number;
  metadata: number;
}

async function portSets(n: number): Promise<Ports[]> {
  const used = new Set<number>();
  const one = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!used.has(port)) {
        used.add(port);
        return port;
      }
    }
  };
  const out: Ports[] = [];
  for (let i = 0; i < n; i++)
    out.push({ server: await one(), partner: await one(), metadata: await one() });
  return out;
}

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

/** The load generator: one process for the whole run, pinned to the load core, fed over stdin. */
class LoadGenerator {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: Array<{ resolve: (r: LoadResult) => void; reject: (e: Error) => void }> = [];
  #buffer = '';
  #stderr = '';

  constructor(options: ServiceBenchOptions) {
    const node = [process.execPath, LOAD_SCRIPT, '--serve'];
    const command = options.pin ? ['taskset', '-c', options.loadCpu, ...node] : node;
    this.#child = spawn(command[0]!, command.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.#buffer += chunk;
      for (let nl = this.#buffer.indexOf('\n'); nl >= 0; nl = this.#buffer.indexOf('\n')) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        const next = this.#waiting.shift();
        const parsed = JSON.parse(line) as LoadResult | { error: string };
        if ('error' in parsed) next?.reject(new Error(`load generator: ${parsed.error}`));
        else next?.resolve(parsed);
      }
    });
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
    });
    this.#child.on('exit', (code) => {
      for (const w of this.#waiting.splice(0)) {
        w.reject(new Error(`load generator exited ${code}: ${this.#stderr}`));
      }
    });
  }

  run(spec: LoadSpec): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#child.stdin.write(`${JSON.stringify(spec)}\n`);
    });
  }

  close(): void {
    this.#child.stdin.end();
  }
}

function serverCommand(
  config: Configuration,
  leashBin: string,
  policyFile: string,
  flags: string[],
  /** Whether the config file asks for isolation (then the other enforce runs say --no-isolate). */
  configIsolates: boolean,
) {
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
  const nodeOptions = run.kind === 'flags' ? flags : [];
  return { wrap, nodeOptions };
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

function shorten(words: readonly string[], work: string): string {
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
function servicePidOf(
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

function countRules(policyFile: string): number {
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
function exportNodeFlags(
  leashBin: string,
  policyFile: string,
  servicePort: number,
): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [leashBin, 'export', 'node-flags', '--json', '--policy', policyFile],
      {
        cwd: SERVICE_DIR,
        // The service's environment: a portable policy names its port as {env:PORT}.
        env: { ...process.env, LEASH_CONFIG: '', LEASH_MODE: '', PORT: String(servicePort) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`leash export node-flags: exit ${code}: ${err}`));
      else resolve((JSON.parse(out) as { flags: string[] }).flags);
    });
  });
}

/**
 * The learned policy with the first port set's ports replaced by another's: each configuration
 * runs on ports of its own, and its policy is the one it would have learned there (the server's
 * listening port, the partner API it calls, its own pages it previews).
 */
function withPorts(policyText: string, from: Ports, to: Ports): string {
  let out = policyText;
  for (const key of ['server', 'partner', 'metadata'] as const) {
    out = out.replace(new RegExp(`(?<=:)${from[key]}(?!\\d)`, 'g'), String(to[key]));
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/**
 * The processes a configuration's figures cover: the node process running the service, or under
 * --isolate the leash supervisor and its direct children, the worker processes (each a
 * `node server.ts`; the start-up process has ended before the front door opens). What the
 * service starts itself (GET /ping's host lookup) is left out, as in every configuration.
 */
function measuredPids(r: Running): number[] {
  return r.tree ? [r.servicePid, ...childrenOf(r.servicePid)] : [r.servicePid];
}

/** CPU seconds (user + sys) of each process that is still there. */
function cpuOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuSeconds(cpuTime(pid)));
    } catch {
      // It ended between the listing and the reading.
    }
  }
  return out;
}

/** SIGKILLs a process this run measured if it is still there and still runs the service. */
function endLeftover(pid: number): void {
  try {
    const words = commandOf(pid);
    if (!words.some((w) => w.endsWith('server.ts') || w.endsWith('leash.js'))) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** What `leash enforce --isolate` prints at start: groups, workers, layers and the group table. */
function isolationOf(stderr: string): ConfigurationSetup['isolation'] {
  const head = /^leash: isolate: (\d+) groups, (\d+) workers \(([^)]*)\)/m.exec(stderr);
  if (head === null) return undefined;
  const rest = stderr.slice(head.index);
  // `  g1: GET /, GET /clock — 4 grants` per group, then `  (7 merges of groups …)` if any.
  const table = [...rest.matchAll(/^ {2}(\S+: .* — .*|\(\d+ merges? .*\))$/gm)].map((m) => m[1]!);
  return {
    groups: Number(head[1]),
    workers: Number(head[2]),
    layers: head[3]!,
    table,
  };
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
  const result: VariantResult = {
    variant,
    amount: 0,
    connections: options.connections,
    rounds: options.rounds,
    mix: [],
    policyRules: 0,
    nodeFlags: [],
    configurations: [],
    measurements: [],
    rssReset: true,
    pinned: options.pin,
    seconds: 0,
  };
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
      const isolated = config.run.kind === 'leash' && config.run.isolate === true;
      const own = isolated && ownIsolateConfig;
      const policyFile = join(work, config.id, 'leash.policy.json');
      mkdirSync(dirname(policyFile), { recursive: true });
      // The policy this configuration would have learned on its own ports (the isolated one's
      // front door is its net.listen port, {env:PORT} or a number changed here).
      writeFileSync(
        policyFile,
        withPorts(readFileSync(own ? learnedIsolate : learned, 'utf8'), ports[0]!, ports[i]!),
      );
      const flags =
        config.run.kind === 'flags'
          ? await exportNodeFlags(leashBin, policyFile, ports[i]!.server)
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
        result.configurations.push({
          id: config.id,
          label: config.label,
          command: '',
          heldOutRequests: 0,
          heldOutFailures: 0,
          measures: '',
          configFile: '',
          error,
        });
        continue;
      }
      const { example, pids, command, isolated, own } = s.value;
      examples.push(example);
      running.push({
        config,
        example,
        servicePid: pids.service,
        wrapperPid: pids.wrapper,
        tree: isolated,
        seen: new Set([pids.service]),
        mix: [],
      });
      result.configurations.push({
        id: config.id,
        label: config.label,
        command: shorten(command, work),
        heldOutRequests: 0,
        heldOutFailures: 0,
        measures: isolated
          ? 'the leash supervisor + its worker processes (summed)'
          : 'the node process running server.ts',
        configFile: own
          ? '$WORK/isolate-app/leash.config.json'
          : 'examples/service/leash.config.json',
      });
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
    const load = (r: Running, amount: number) =>
      generator!.run({
        url: r.example.base,
        connections: options.connections,
        amount,
        requests: r.mix,
      });

    // 4. Calibrate the request count on the baseline, then warm every configuration up.
    const probe = await load(baseline, Math.max(options.connections * 50, 500));
    const rate = probe.requestsPerSecond;
    result.amount = Math.max(
      options.connections * 20,
      Math.round((rate * options.seconds) / 100) * 100,
    );
    const warmAmount = Math.max(options.connections * 10, Math.round(rate * options.warmupSeconds));
    const rewarmAmount = Math.max(
      options.connections * 5,
      Math.round(rate * options.rewarmSeconds),
    );
    log(
      `${variant}: baseline ≈ ${rate.toFixed(0)} req/s; ${result.amount} requests per measurement, ${options.connections} connections, ${result.mix.length} requests in the mix`,
    );
    for (const r of running) await load(r, warmAmount);
    log(`${variant}: warmed up (${elapsed()})`);

    // 5. Rounds: every configuration once per round, the order rotated each round.
    for (let round = 0; round < options.rounds; round++) {
      const order = running.map((_, i) => running[(i + round) % running.length]!);
      if (round % 2 === 1) order.reverse();
      const line: string[] = [];
      for (const [slot, r] of order.entries()) {
        await load(r, rewarmAmount);
        await sleep(50);
        // The processes measured: listed before and again after (a worker started meanwhile counts
        // from its start; one that ended takes its last CPU along, and is counted as lost).
        const before = measuredPids(r);
        for (const pid of before) if (!resetPeakRss(pid)) result.rssReset = false;
        const cpu0 = cpuOf(before);
        const wrap0 = r.wrapperPid === undefined ? undefined : cpuTime(r.wrapperPid);
        const res = await load(r, result.amount);
        const after = measuredPids(r);
        const cpu1 = cpuOf(after);
        const wrap1 = r.wrapperPid === undefined ? undefined : cpuTime(r.wrapperPid);
        let serviceCpu = 0;
        for (const [pid, seconds] of cpu1) serviceCpu += seconds - (cpu0.get(pid) ?? 0);
        for (const pid of after) r.seen.add(pid);
        let peak = 0;
        let proportional = 0;
        for (const pid of cpu1.keys()) {
          peak += peakRss(pid);
          proportional += pss(pid);
        }
        const m: Measurement = {
          round,
          slot,
          config: r.config.id,
          requests: res.responses,
          non2xx: res.non2xx,
          errors: res.errors + res.timeouts,
          seconds: res.seconds,
          cpuPerRequestMs: (serviceCpu * 1000) / res.responses,
          requestsPerSecond: res.requestsPerSecond,
          p50Ms: res.p50,
          p99Ms: res.p99,
          peakRssMb: peak / 2 ** 20,
          pssMb: proportional / 2 ** 20,
          wrapperCpuMs:
            wrap0 === undefined || wrap1 === undefined
              ? null
              : (cpuSeconds(wrap1) - cpuSeconds(wrap0)) * 1000,
          serviceCpuMs: serviceCpu * 1000,
          processes: cpu1.size,
          processesLost: [...cpu0.keys()].filter((pid) => !cpu1.has(pid)).length,
          processesStarted: [...cpu1.keys()].filter((pid) => !cpu0.has(pid)).length,
        };
        result.measurements.push(m);
        line.push(
          `${r.config.id} ${m.cpuPerRequestMs.toFixed(3)} ms/req ${m.requestsPerSecond.toFixed(0)}/s`,
        );
        if (m.non2xx > 0 || m.errors > 0) {
          log(
            `${variant}/${r.config.id} round ${round + 1}: ${m.non2xx} non-2xx (${JSON.stringify(res.statuses)}), ${m.errors} errors`,
          );
        }
        if (m.processesLost > 0 || m.processesStarted > 0) {
          log(
            `${variant}/${r.config.id} round ${round + 1}: ${m.processesLost} measured processes ended and ${m.processesStarted} started during the measurement`,
          );
        }
      }
      log(`${variant} round ${round + 1}/${options.rounds} (${elapsed()}): ${line.join(' · ')}`);
    }
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
