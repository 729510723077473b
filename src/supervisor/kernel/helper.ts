/**
 * @module
 * The launcher binary (native/leash-sandbox.c): found built, else compiled on demand with the
 * system C compiler, then asked what this kernel supports. It is C rather than an addon because it
 * has to run before Node does (Landlock restricts the calling thread and the threads it starts
 * later; a Node process has threads before any JavaScript runs), and without a library because
 * Landlock and seccomp are a handful of syscalls. The same binary is the thin waiter that
 * `leash learn|report|enforce` becomes while the service runs (`--wait`, src/supervisor/waiter.ts).
 *
 * Built binaries are named after a hash of the source, so an update never runs a stale launcher;
 * they go to `native/build/` in leash's package when it is writable, else to the user's cache
 * directory. Both are paths the kernel layer never lets the service write (see protected.ts).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  constants,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../modules/runtime/exporters/node-flags.ts';

export const HELPER_NAME = 'leash-sandbox';

/** Where the source of the launcher is, in leash's package. */
export function helperSource(): string {
  return join(packageRoot(), 'native', `${HELPER_NAME}.c`);
}

/** Directories a built launcher may live in, in the order they are tried. */
export function helperDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const cache =
    env.LEASH_CACHE_DIR ||
    (env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'leash') : undefined) ||
    (homedir()
      ? join(homedir(), '.cache', 'leash')
      : join(tmpdir(), `leash-${process.getuid?.()}`));
  return [join(packageRoot(), 'native', 'build'), cache];
}

export type HelperResult =
  | { readonly ok: true; readonly path: string; readonly built: boolean }
  | { readonly ok: false; readonly reason: string };

/** The launcher for this source, building it when no directory holds it yet. */
export function findOrBuildHelper(env: NodeJS.ProcessEnv = process.env): HelperResult {
  if (process.platform !== 'linux')
    return { ok: false, reason: `the kernel layer is Linux-only (this is ${process.platform})` };
  let source: Buffer;
  try {
    source = readFileSync(helperSource());
  } catch (error) {
    return { ok: false, reason: `cannot read the launcher's source: ${(error as Error).message}` };
  }
  const name = `${HELPER_NAME}-${createHash('sha256').update(source).digest('hex').slice(0, 16)}`;
  const dirs = helperDirs(env);
  for (const dir of dirs) {
    const path = join(dir, name);
    if (isExecutable(path)) return { ok: true, path, built: false };
  }
  const failures: string[] = [];
  for (const dir of dirs) {
    const built = build(dir, name, env);
    if (built.ok) return built;
    failures.push(built.reason);
  }
  return { ok: false, reason: failures[failures.length - 1] ?? 'no directory to build in' };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function build(dir: string, name: string, env: NodeJS.ProcessEnv): HelperResult {
  const compiler = env.CC || 'cc';
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (error) {
    return { ok: false, reason: `cannot create ${dir}: ${(error as Error).message}` };
  }
  const target = join(dir, name);
  const temporary = `${target}.${process.pid}.tmp`;
  const result = spawnSync(compiler, ['-O2', '-o', temporary, helperSource()], {
    encoding: 'utf8',
    timeout: 120_000,
    killSignal: 'SIGKILL',
  });
  if (result.error !== undefined || result.status !== 0) {
    rmSync(temporary, { force: true });
    const why =
      result.error !== undefined
        ? (result.error as NodeJS.ErrnoException).code === 'ENOENT'
          ? `no C compiler (${compiler}) on PATH`
          : result.error.message
        : (result.stderr.trim().split('\n')[0] ?? `exit ${result.status}`);
    return { ok: false, reason: `cannot build the launcher: ${why}` };
  }
  chmodSync(temporary, 0o755);
  renameSync(temporary, target);
  return { ok: true, path: target, built: true };
}

export interface KernelSupport {
  /** The launcher, when it exists or could be built. */
  readonly helper: string | undefined;
  /** Why there is no launcher, or why the kernel layer cannot run. */
  readonly problem: string | undefined;
  /** Landlock ABI version (0: none). */
  readonly landlock: number;
  readonly seccomp: boolean;
}

/** What this machine supports, asked of the launcher itself (so a cap in the environment counts). */
export function kernelSupport(env: NodeJS.ProcessEnv = process.env): KernelSupport {
  const helper = findOrBuildHelper(env);
  if (!helper.ok) return { helper: undefined, problem: helper.reason, landlock: 0, seccomp: false };
  const probe = spawnSync(helper.path, ['--probe'], {
    encoding: 'utf8',
    env,
    timeout: 10_000,
    killSignal: 'SIGKILL',
  });
  let answer: { landlock?: unknown; seccomp?: unknown } = {};
  try {
    answer = JSON.parse(probe.stdout) as typeof answer;
  } catch {}
  const landlock = typeof answer.landlock === 'number' ? answer.landlock : 0;
  const seccomp = answer.seccomp === true;
  const problem =
    landlock < 1
      ? 'this kernel has no Landlock'
      : !seccomp
        ? 'this kernel has no seccomp filters'
        : undefined;
  return { helper: helper.path, problem, landlock, seccomp };
}
