/**
 * @module
 * Starts the example as child processes, for tests and the demo: the partner API, the metadata
 * service, the loopback CDN and the server (whose command line the caller may wrap, e.g. in
 * `leash enforce --`).
 * Each child runs in its own process group, so stop() also ends whatever a wrapper or the server
 * started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net, { type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const script = (name: string): string => fileURLToPath(new URL(name, import.meta.url));

export const SERVER_SCRIPT = script('./server.ts');
export const PARTNER_SCRIPT = script('./partner.ts');
export const METADATA_SCRIPT = script('./metadata.ts');
export const CDN_SCRIPT = script('./cdn.ts');

/**
 * A port free right now on `host`. A learning run and the enforcing run after it must use the
 * same ports: the partner's address, the service's own and the CDN's end up in the policy.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = net.createServer().listen(0, host);
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface StartOptions {
  /** The service's DATA_DIR (created if missing). */
  dataDir: string;
  /**
   * The server's DATABASE_URL (`postgres://…`): store data in PostgreSQL instead of SQLite in
   * DATA_DIR. A DATABASE_URL in this process's environment is not passed on.
   */
  databaseUrl?: string;
  /** Extra environment for the server (on top of this process's environment). */
  env?: Record<string, string>;
  /** Node flags for the server, placed before the script: `[execPath, ...nodeOptions, script]`. */
  nodeOptions?: string[];
  /** Rewrites the server's command line, e.g. `(cmd) => ['leash', 'learn', '--', ...cmd]`. */
  wrap?: (command: string[]) => string[];
  /** Fixed ports (default 0: any free port); fix them when a policy learned in one run must match. */
  ports?: { server?: number; partner?: number; metadata?: number; cdn?: number };
  /** Working directory of the server (default: this process's). */
  cwd?: string;
  /** How long to wait for each `listening on` line (default 90 s: generous, for a busy machine). */
  timeoutMs?: number;
}

export interface Output {
  stdout: string;
  stderr: string;
}

export interface RunningExample {
  base: string;
  partnerBase: string;
  metadataBase: string;
  /** The CDN's origin, which the server's pages load from (its CDN_ORIGIN). */
  cdnBase: string;
  processes: {
    server: ChildProcess;
    partner: ChildProcess;
    metadata: ChildProcess;
    cdn: ChildProcess;
  };
  /** Everything the server printed so far. */
  output(): Output;
  /** Ends all four process groups and waits until they are gone. */
  stop(): Promise<void>;
}

export interface Started {
  child: ChildProcess;
  url: string;
  output: Output;
}

const LISTENING = /^listening on (http:\/\/\S+)\s*$/m;

export async function startExample(options: StartOptions): Promise<RunningExample> {
  const timeoutMs = options.timeoutMs ?? 90_000;
  const ports = options.ports ?? {};
  // The test runner marks its children; the example's processes are not tests. The database is
  // chosen by options.databaseUrl alone.
  const { NODE_TEST_CONTEXT: _, DATABASE_URL: __, ...inherited } = process.env;
  const started: Started[] = [];
  const cleanup = (): void => {
    for (const { child } of started) killGroup(child, 'SIGKILL');
  };
  // A safety net: if this process exits without stop(), do not leave the services running.
  process.once('exit', cleanup);
  const launch = async (command: string[], env: NodeJS.ProcessEnv, cwd?: string) => {
    const result = await launchAndWait(command, env, timeoutMs, cwd);
    started.push(result);
    return result;
  };
  const stop = async (): Promise<void> => {
    process.removeListener('exit', cleanup);
    await Promise.all(started.map(({ child }) => stopGroup(child)));
  };

  try {
    const metadata = await launch([process.execPath, METADATA_SCRIPT], {
      ...inherited,
      PORT: String(ports.metadata ?? 0),
    });
    const partner = await launch([process.execPath, PARTNER_SCRIPT], {
      ...inherited,
      PORT: String(ports.partner ?? 0),
    });
    const cdn = await launch([process.execPath, CDN_SCRIPT], {
      ...inherited,
      PORT: String(ports.cdn ?? 0),
    });
    const command = [process.execPath, ...(options.nodeOptions ?? []), SERVER_SCRIPT];
    const server = await launch(
      options.wrap ? options.wrap(command) : command,
      {
        ...inherited,
        ...options.env,
        PORT: String(ports.server ?? 0),
        DATA_DIR: options.dataDir,
        ...(options.databaseUrl === undefined ? {} : { DATABASE_URL: options.databaseUrl }),
        PARTNER_URL: partner.url,
        METADATA_URL: metadata.url,
        CDN_ORIGIN: cdn.url,
      },
      options.cwd,
    );
    return {
      base: server.url,
      partnerBase: partner.url,
      metadataBase: metadata.url,
      cdnBase: cdn.url,
      processes: {
        server: server.child,
        partner: partner.child,
        metadata: metadata.child,
        cdn: cdn.child,
      },
      output: () => ({ ...server.output }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Spawns a command in a new process group and resolves once it prints its `listening on` line
 * (also what the benchmark's light service is started with).
 */
export function launchAndWait(
  command: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  cwd: string | undefined,
): Promise<Started> {
  const [file, ...args] = command;
  if (file === undefined) throw new Error('empty command');
  const child = spawn(file, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    ...(cwd === undefined ? {} : { cwd }),
  });
  // Unreferenced, so a caller that forgets stop() (a failing test) still exits; the 'exit' safety
  // net in startExample then kills the groups.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as Socket | null)?.unref();
  const output: Output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer);
      killGroup(child, 'SIGKILL');
      reject(new Error(`${command.join(' ')}: ${why}\n${output.stderr.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail(`no "listening on" line in ${timeoutMs} ms`), timeoutMs);
    const onData = (): void => {
      const url = LISTENING.exec(output.stdout)?.[1];
      if (url === undefined) return;
      clearTimeout(timer);
      child.stdout?.removeListener('data', onData);
      child.removeListener('exit', onExit);
      resolve({ child, url, output });
    };
    const onExit = (code: number | null, signal: string | null): void =>
      fail(`exited (${signal ?? code}) before listening`);
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (error) => fail(error.message));
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether the promise settles within `ms`; the timer is cleared so it keeps no one waiting. */
async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM to the group, SIGKILL after 5 s, then wait (bounded) until no member is left. */
export async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const exited =
    child.exitCode !== null || child.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  if (!(await settlesWithin(exited, 5000))) killGroup(child, 'SIGKILL');
  await exited;
  // Members of the group other than the leader (a wrapped server, a running tar) may outlive it.
  for (let i = 0; i < 40 && groupAlive(pid); i++) {
    if (i === 20) killGroup(child, 'SIGKILL');
    await sleep(50);
  }
}
