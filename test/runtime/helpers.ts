// Runs a service under `leash <mode>` and talks to it, for the runtime tests.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  groupAlive,
  killGroup,
  STARTUP_LIMIT_MS,
  spawnGroup,
  withinLimit,
} from '../support/processes.ts';

export const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));

/** The test process's environment without leash's own settings (a run inherits none), plus `extra`. */
export const cleanEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env,
  NO_COLOR: '1',
  NODE_OPTIONS: '',
  LEASH_MODE: '',
  LEASH_POLICY: '',
  LEASH_CONFIG: '',
  LEASH_NODE_WAIT: '',
  LEASH_PROGRESS_MS: '',
  ...extra,
});

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
    env: cleanEnv(options.env),
  });
}

/**
 * Starts a command with exactly this environment, in its own process group, and waits for its
 * `listening on <url>` line. If the line does not come within the limit, or the command exits
 * first, the whole group is killed.
 */
export async function startListening(
  command: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<Running> {
  const [file, ...rest] = command;
  const child = spawnGroup(file!, rest, { cwd: options.cwd, env: options.env });
  let err = '';
  child.stderr!.on('data', (chunk) => {
    err += chunk;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const listening = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /listening on (https?:\/\/\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => {
      killGroup(child);
      reject(new Error(`service exited (${code}) before listening: ${err}`));
    });
  });
  const base = await withinLimit(
    listening,
    options.timeoutMs ?? STARTUP_LIMIT_MS,
    () => killGroup(child),
    () => `service did not start; killed: ${err}`,
  );
  return {
    base,
    child,
    stderr: () => err,
    async stop() {
      // SIGTERM to the leader only: `leash` forwards it to the service, and the tests check how
      // both end. Anything still in the group after that (or after a hang) is killed.
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const [code, signal] =
        child.exitCode !== null || child.signalCode !== null
          ? [child.exitCode, child.signalCode]
          : await withinLimit(
              exited,
              STARTUP_LIMIT_MS,
              () => killGroup(child),
              () => `service did not stop after SIGTERM; killed: ${err}`,
            );
      if (groupAlive(child)) killGroup(child);
      return { code, signal };
    },
  };
}

export async function get(base: string, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(new URL(path, base));
  return { status: response.status, body: await response.text() };
}
