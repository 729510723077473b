// Runs a service under `leash <mode>` and talks to it, for the runtime tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));

export interface Running {
  readonly base: string;
  readonly child: ChildProcess;
  stderr(): string;
  /** SIGTERM, then the exit code or signal. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `leash <args…>` and waits for the service's `listening on <url>` line. */
export function startUnder(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<Running> {
  return startListening([process.execPath, BIN, ...args], {
    cwd: options.cwd,
    env: {
      ...process.env,
      NO_COLOR: '1',
      LEASH_MODE: '',
      LEASH_CONFIG: '',
      LEASH_POLICY: '',
      ...options.env,
    },
  });
}

/** Starts a command with exactly this environment and waits for its `listening on <url>` line. */
export async function startListening(
  command: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Running> {
  const [file, ...rest] = command;
  const child = spawn(file!, rest, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (chunk) => {
    err += chunk;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(
      () => reject(new Error(`service did not start: ${err}`)),
      options.timeoutMs ?? 15_000,
    );
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (https?:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code}) before listening: ${err}`));
    });
  });
  return {
    base,
    child,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const [code, signal] =
        child.exitCode !== null || child.signalCode !== null
          ? [child.exitCode, child.signalCode]
          : await exited;
      return { code, signal };
    },
  };
}

export async function get(base: string, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(new URL(path, base));
  return { status: response.status, body: await response.text() };
}
