/**
 * @module
 * Child processes, worker threads and native addons. The command line of a child is written the
 * way a shell reads it (docs/policy-format.md, "command"): a shell string as it is, an argv
 * quoted word by word, so that an injected `; rm -rf /` in a shell string changes the template
 * while the same characters inside one argv word do not. A refused async spawn returns a
 * ChildProcess that emits `error` (as a missing executable does); sync forms throw.
 */

import childProcess, { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { promisify } from 'node:util';
import workerThreads from 'node:worker_threads';
import { quote } from 'shell-quote';
import { fileBelow } from '../../attribution/package-of.ts';
import { LeashError } from '../../errors.ts';
import type { RuntimeContext } from './context.ts';
import { pathOf } from './wrap-fs.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

function isShell(options: unknown): boolean {
  return (
    typeof options === 'object' &&
    options !== null &&
    Boolean((options as { shell?: unknown }).shell)
  );
}

function argv(args: readonly unknown[]): { file: string; rest: string[]; options: unknown } {
  const file = String(args[0]);
  const rest = Array.isArray(args[1]) ? args[1].map(String) : [];
  const options = Array.isArray(args[1]) ? args[2] : args[1];
  return { file, rest, options };
}

/** The command-line fact of each child_process function, from its arguments. */
const COMMANDS: Record<string, (args: readonly unknown[]) => string> = {
  exec: (args) => String(args[0]),
  execSync: (args) => String(args[0]),
  spawn: (args) => commandOf(argv(args)),
  spawnSync: (args) => commandOf(argv(args)),
  execFile: (args) => commandOf(argv(args)),
  execFileSync: (args) => commandOf(argv(args)),
  fork: (args) => {
    const { file, rest, options } = argv(args);
    const execPath = (options as { execPath?: string } | undefined)?.execPath ?? process.execPath;
    // fork takes a path or a file: URL; pathOf reads both (String(url) would not).
    return quote([execPath, pathOf(args[0]) ?? file, ...rest]);
  },
};

function commandOf({
  file,
  rest,
  options,
}: {
  file: string;
  rest: string[];
  options: unknown;
}): string {
  // With `shell: true` Node joins file and args with spaces and hands them to /bin/sh.
  return isShell(options) ? [file, ...rest].join(' ') : quote([file, ...rest]);
}

const SYNC = new Set(['execSync', 'spawnSync', 'execFileSync']);

/**
 * The command lines the wrapped child_process functions in progress decided, innermost last.
 * Inside one, whose own check already decided the command line as the caller wrote it (a shell
 * string, say), the class below does not decide it again; nor does a wrapped function Node's own
 * child_process code calls with the same command line (`exec` calls `execFile` through the
 * module's exports): nothing but Node's frames and leash's is between the two, so its caller is
 * the one already decided.
 */
const decided: string[] = [];

function viaWrapper<T>(command: string, fn: () => T): T {
  decided.push(command);
  try {
    return fn();
  } finally {
    decided.pop();
  }
}

/**
 * Whether a wrapped function's command line is the one the wrapper around it just decided, and
 * Node's child_process code is what called it (so no code of the service's is between the two).
 */
function decidedAbove(command: string, wrapper: (...args: never[]) => unknown): boolean {
  return (
    decided.length > 0 &&
    decided[decided.length - 1] === command &&
    fileBelow(wrapper) === 'node:child_process'
  );
}

/** A ChildProcess that was never started and reports the refusal as spawn failures do. */
function refusedChild(error: unknown, callback: unknown): ChildProcess {
  const child = new ChildProcess();
  process.nextTick(() => {
    if (typeof callback === 'function') callback(error, '', '');
    if (child.listenerCount('error') > 0 || typeof callback !== 'function')
      child.emit('error', error);
  });
  return child;
}

export function wrapChildProcess(context: RuntimeContext): () => void {
  const restore: Array<() => void> = [];
  const target = childProcess as unknown as Record<string, AnyFunction>;
  for (const [name, commandLine] of Object.entries(COMMANDS)) {
    const original = target[name]!;
    const wrapped = function (this: unknown, ...args: unknown[]) {
      const command = commandLine(args);
      try {
        // The stack is read from right below this wrapper: its caller.
        if (!decidedAbove(command, wrapped))
          context.check('child.spawn', command, undefined, wrapped);
      } catch (error) {
        if (SYNC.has(name)) throw error;
        return refusedChild(error, args[args.length - 1]);
      }
      return viaWrapper(command, () => original.apply(this, args));
    } as AnyFunction & { [promisify.custom]?: unknown };
    const custom = (original as { [promisify.custom]?: AnyFunction })[promisify.custom];
    if (custom !== undefined) {
      // util.promisify(exec) resolves to { stdout, stderr }: keep that shape, check first.
      const promised = function (this: unknown, ...args: unknown[]) {
        const command = commandLine(args);
        try {
          context.check('child.spawn', command, undefined, promised);
        } catch (error) {
          return Promise.reject(error);
        }
        return viaWrapper(command, () => custom.apply(this, args));
      };
      wrapped[promisify.custom] = promised;
    }
    Object.defineProperty(wrapped, 'name', { value: original.name });
    target[name] = wrapped;
    restore.push(() => {
      target[name] = original;
    });
  }

  // The class every child_process function ends in, called directly (`new ChildProcess().spawn`),
  // and process.execve: checked as the argv they run. The argv is copied to strings once and that
  // copy is both checked and run, so an argument cannot answer differently the second time.
  const proto = ChildProcess.prototype as unknown as Record<string, AnyFunction>;
  const originalSpawn = proto.spawn!;
  // Children this process started: the only processes besides itself it may signal.
  const children = new Set<number>();
  const remember = (child: unknown, result: unknown) => {
    const pid = (child as { pid?: unknown }).pid;
    if (typeof pid === 'number') {
      children.add(pid);
      (child as ChildProcess).once('exit', () => children.delete(pid));
    }
    return result;
  };
  const spawn = function (this: unknown, options: unknown) {
    if (decided.length > 0 || typeof options !== 'object' || options === null)
      return remember(this, originalSpawn.call(this, options));
    const o = options as { file?: unknown; args?: unknown };
    const file = String(o.file);
    const args = Array.isArray(o.args) ? o.args.map(String) : [];
    context.check('child.spawn', quote([file, ...args.slice(1)]), undefined, spawn);
    return remember(this, originalSpawn.call(this, { ...o, file, args }));
  };
  proto.spawn = spawn;
  restore.push(() => {
    proto.spawn = originalSpawn;
  });

  const originalExecve = process.execve;
  if (typeof originalExecve === 'function') {
    process.execve = ((file: string, args?: readonly string[], env?: NodeJS.ProcessEnv) => {
      const f = String(file);
      const argv = Array.isArray(args) ? args.map(String) : [f];
      context.check('child.spawn', quote([f, ...argv.slice(1)]));
      return originalExecve.call(process, f, argv, env);
    }) as NonNullable<typeof process.execve>;
    restore.push(() => {
      process.execve = originalExecve as NonNullable<typeof process.execve>;
    });
  }

  // process.kill of a process the service did not start (another service, leash itself, its
  // process group) is refused in enforce mode; signal 0 only asks whether a process exists.
  const originalKill = process.kill;
  if (context.host.mode === 'enforce') {
    process.kill = ((pid: number, signal?: string | number) => {
      const target = Number(pid);
      const own = target === process.pid || children.has(target) || children.has(-target);
      if (!own && signal !== 0) {
        throw new LeashError(
          'ERR_LEASH_DENIED',
          `leash refused to signal process ${target}: the service did not start it`,
          { module: 'runtime', scope: context.use().scope, package: context.use().package },
        );
      }
      return originalKill.call(process, target, signal);
    }) as typeof process.kill;
    restore.push(() => {
      process.kill = originalKill;
    });
  }

  const OriginalWorker = workerThreads.Worker;
  class Worker extends OriginalWorker {
    constructor(filename: string | URL, options?: workerThreads.WorkerOptions) {
      const file = options?.eval
        ? evalWorkerPath(filename)
        : (pathOf(filename) ?? String(filename));
      context.check('worker.start', file);
      super(filename, options);
    }
  }
  (workerThreads as { Worker: typeof OriginalWorker }).Worker = Worker;
  restore.push(() => {
    (workerThreads as { Worker: typeof OriginalWorker }).Worker = OriginalWorker;
  });

  const originalDlopen = process.dlopen;
  process.dlopen = function (this: unknown, module: unknown, filename: string, ...rest: unknown[]) {
    context.check('addon.load', pathOf(filename) ?? filename);
    return (originalDlopen as AnyFunction).call(this, module, filename, ...rest);
  } as typeof process.dlopen;
  restore.push(() => {
    process.dlopen = originalDlopen;
  });

  syncBuiltinESMExports();
  return () => {
    for (const undo of restore.reverse()) undo();
    syncBuiltinESMExports();
  };
}

/**
 * A worker started from code (`eval: true`) has no file: it is named by its code, as a path the
 * policy can hold (`/eval/<first 16 hex of the code's SHA-256>`), so the same code is allowed and
 * other code is not.
 */
export function evalWorkerPath(code: unknown): string {
  return `/eval/${createHash('sha256').update(String(code)).digest('hex').slice(0, 16)}`;
}
