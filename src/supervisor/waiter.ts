/**
 * @module
 * The thin waiter: once `leash learn|report|enforce` has prepared the service's start (its
 * environment, the kernel plan, the CSP key), the Node CLI replaces itself (`process.execve`, the
 * same pid) with the launcher binary in its `--wait` mode (native/leash-sandbox.c), a few hundred
 * kilobytes of C instead of a Node process, for as long as the service runs. It starts the
 * service, forwards signals, appends the violations arriving on the pipe to the spool beside the
 * policy, and at the end hands over to `leash _finish` (Node again) only when there is something
 * to merge or a summary to print.
 *
 * Without the binary (off Linux, no C compiler) or with LEASH_NODE_WAIT=1, the CLI waits in Node
 * as before (`runWrapped`).
 */
import { fileURLToPath } from 'node:url';
import { findOrBuildHelper } from './kernel/helper.ts';

/** `LEASH_NODE_WAIT=1`: wait for the service in the Node CLI, without the launcher. */
export const NODE_WAIT_ENV = 'LEASH_NODE_WAIT';

export type WaiterResult =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly reason: string };

/** The launcher to wait in, built if need be, or why the CLI waits in Node. */
export function findWaiter(env: NodeJS.ProcessEnv = process.env): WaiterResult {
  if (env[NODE_WAIT_ENV] === '1') return { ok: false, reason: `${NODE_WAIT_ENV}=1` };
  if (typeof process.execve !== 'function')
    return { ok: false, reason: `process.execve is not available on ${process.platform}` };
  const helper = findOrBuildHelper(env);
  return helper.ok ? { ok: true, path: helper.path } : { ok: false, reason: helper.reason };
}

export interface WaitOptions {
  /** The launcher binary. */
  readonly waiter: string;
  /** The service's command: its program (looked up on PATH) and arguments. */
  readonly command: readonly string[];
  /** The service's environment; the waiter itself keeps the CLI's. */
  readonly env: NodeJS.ProcessEnv;
  /** With a violations pipe on fd 3: where its lines go, and the policy's lock. */
  readonly spool?: { readonly file: string; readonly lock: string };
  /**
   * What runs when the service has ended (the status is appended): always, or only when the
   * spool holds something to merge.
   */
  readonly after?: { readonly command: readonly string[]; readonly always: boolean };
}

/** The launcher's arguments (after its own path) for these options. */
export function waiterArguments(
  options: WaitOptions,
  own: NodeJS.ProcessEnv = process.env,
): string[] {
  const args = ['--wait'];
  if (options.spool !== undefined) args.push('-p', options.spool.file, '-l', options.spool.lock);
  // Only the differences travel: the rest of the service's environment is the CLI's.
  for (const [name, value] of Object.entries(options.env))
    if (value !== undefined && own[name] !== value) args.push('-E', `${name}=${value}`);
  for (const name of Object.keys(own))
    if (own[name] !== undefined && options.env[name] === undefined) args.push('-E', name);
  if (options.after !== undefined) {
    if (options.after.always) args.push('-a');
    for (const word of options.after.command) args.push('-e', word);
  }
  args.push('--', ...options.command);
  return args;
}

/** Replaces this process with the waiter; returns only when that failed, with the reason. */
export function execWaiter(options: WaitOptions): Error {
  if (process.execve === undefined)
    return new Error(`process.execve is not available on ${process.platform}`);
  try {
    process.execve(options.waiter, [options.waiter, ...waiterArguments(options)], process.env);
  } catch (error) {
    return error as Error;
  }
  return new Error('process.execve returned');
}

/** The command that runs leash's CLI again, as this process was started. */
export function leashCommand(): string[] {
  const bin = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
  return [process.execPath, ...process.execArgv, bin];
}
