/**
 * @module
 * Child processes for tests that never outlive a time limit. Each starts in its own process group
 * (`detached`), because what a test starts often starts more: `leash learn` starts the service,
 * the service starts `tar`, a fixture forks. Every limit here ends the whole group with SIGKILL,
 * and so does the end of the test process (normal exit, or SIGINT/SIGTERM/SIGHUP from the test
 * runner), so a failing or hanging test leaves nothing running that keeps the suite waiting.
 *
 * The limits are generous on purpose: they only bound a hang, they are not assertions about speed,
 * and a busy machine (two CPU-hungry jobs beside the suite) must still pass.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { delimiter, dirname } from 'node:path';

/** How long a service may take to print its `listening on` line. */
export const STARTUP_LIMIT_MS = 90_000;
/** How long a command run to its end may take. */
export const RUN_LIMIT_MS = 120_000;

/**
 * The limit for `spawnSync` of a command that starts no lasting process of its own (a `leash
 * policy …` command, a probe): spawnSync kills only that one process at the limit, and would wait
 * on as long as anything it started holds the pipes, so commands that start services use run().
 */
export const SINGLE_PROCESS_LIMIT = { timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' } as const;

const groups = new Set<number>();

function killAll(): void {
  for (const pid of groups) signalGroup(pid, 'SIGKILL');
  groups.clear();
}

let installed = false;
function installSafetyNet(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // once() has removed this listener: the re-raised signal takes its default course.
      process.kill(process.pid, signal);
    });
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    // ESRCH: no member of the group is left.
    return false;
  }
}

/** Sends `signal` to every process of the child's group (default SIGKILL). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  signalGroup(child.pid, signal);
  if (signal === 'SIGKILL') groups.delete(child.pid);
}

/** Whether any process of the child's group is still there. */
export function groupAlive(child: ChildProcess): boolean {
  return child.pid !== undefined && signalGroup(child.pid, 0);
}

/** `spawn` in a new process group that the safety net ends if the test forgets to. */
export function spawnGroup(
  file: string,
  args: readonly string[],
  options: Omit<SpawnOptions, 'detached'> = {},
): ChildProcess {
  installSafetyNet();
  const child = spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
    detached: true,
  });
  if (child.pid !== undefined) groups.add(child.pid);
  return child;
}

/**
 * Settles like `promise`, or rejects with `what` after `ms` once `onExpiry` (which should kill
 * what the caller started) has run. The timer never keeps the process alive by itself.
 */
export function withinLimit<T>(
  promise: Promise<T>,
  ms: number,
  onExpiry: () => void,
  what: () => string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onExpiry();
      reject(new Error(`${what()} (limit ${ms} ms)`));
    }, ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin, which is then closed. */
  input?: string;
  timeoutMs?: number;
}

/**
 * Runs a command to its end, like `spawnSync` with `encoding: 'utf8'`, but asynchronously and in
 * its own process group: at the limit the whole group is killed and the promise rejects with what
 * the command printed. Whatever the command left running in its group when it exited is killed
 * too (spawnSync would wait for it as long as it holds the pipes).
 */
export function run(
  file: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const child = spawnGroup(file, args, {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  const finished = new Promise<RunResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', () => killGroup(child));
    child.once('close', (status: number | null, signal: NodeJS.Signals | null) =>
      resolve({ status, signal, stdout, stderr }),
    );
  });
  const limit = options.timeoutMs ?? RUN_LIMIT_MS;
  return withinLimit(
    finished,
    limit,
    () => killGroup(child),
    () => `${[file, ...args].join(' ')} did not end; killed. stdout: ${stdout} stderr: ${stderr}`,
  );
}

/**
 * The environment of an npm project run by a test (`npm test` under leash): this Node first on
 * PATH, npm's variables of an outer `npm test` and the test runner's mark on its children
 * (NODE_TEST_CONTEXT, which would make the project's runner report in the parent's binary
 * protocol) left out, and no leash settings from outside.
 */
export function npmProjectEnv(): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.toLowerCase().startsWith('npm_') && name !== 'NODE_TEST_CONTEXT',
      ),
    ),
    PATH: [dirname(process.execPath), process.env.PATH].join(delimiter),
    NO_COLOR: '1',
    NODE_OPTIONS: '',
    LEASH_MODE: '',
    LEASH_POLICY: '',
    LEASH_CONFIG: '',
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
  };
}
