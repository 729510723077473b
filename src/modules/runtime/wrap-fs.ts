/**
 * @module
 * In-process checks of file access, per scope and package: the public `fs` functions that take a
 * path are wrapped so the check runs before the call. A refusal follows each API's convention: a
 * sync call throws, a callback gets the error, a promise rejects, a stream emits `error`,
 * `exists`/`existsSync` answer false. Calls by file descriptor were checked when the file was
 * opened. ESM named imports of `node:fs` see the wrappers through `syncBuiltinESMExports`.
 *
 * A metadata probe (`stat`, `lstat`, `access`, `exists`) of a path that does not exist needs no
 * privilege: it is answered as Node would (ENOENT, ENOTDIR, false), neither refused nor recorded.
 * Static-file middleware probes its directory for every request before the route runs
 * (`express.static` at `/` stats `public/posts/4` for `GET /posts/4`), so refusing the probe of an
 * id never seen while learning failed a legitimate request with 500.
 */

import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { resolve } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Capability } from './capabilities.ts';
import type { RuntimeContext } from './context.ts';
import { noteMkdtempPrefix } from './temp-dirs.ts';

type Access = 'read' | 'write' | 'open' | 'none';
/** Access of each path argument, by position. */
const FUNCTIONS: Record<string, readonly Access[]> = {
  access: ['read'],
  exists: ['read'],
  stat: ['read'],
  lstat: ['read'],
  statfs: ['read'],
  readFile: ['read'],
  readdir: ['read'],
  readlink: ['read'],
  realpath: ['read'],
  opendir: ['read'],
  open: ['open'],
  openAsBlob: ['read'],
  watch: ['read'],
  watchFile: ['read'],
  appendFile: ['write'],
  writeFile: ['write'],
  chmod: ['write'],
  lchmod: ['write'],
  chown: ['write'],
  lchown: ['write'],
  utimes: ['write'],
  lutimes: ['write'],
  mkdir: ['write'],
  mkdtemp: ['write'],
  rm: ['write'],
  rmdir: ['write'],
  truncate: ['write'],
  unlink: ['write'],
  copyFile: ['read', 'write'],
  cp: ['read', 'write'],
  rename: ['write', 'write'],
  link: ['read', 'write'],
  symlink: ['none', 'write'],
};
const STREAMS: Record<string, Access> = { createReadStream: 'read', createWriteStream: 'write' };
/** Functions that only ask about a path: on an absent path they answer "absent", needing nothing. */
const PROBES = new Set(['access', 'exists', 'stat', 'lstat']);
/** Taken before any wrapping: leash's own look at whether a path exists. */
const lstatSync = fs.lstatSync;
const CALLBACK_ONLY = new Set(['watch', 'watchFile', 'openAsBlob']);

/** The absolute path of a path argument, or undefined for descriptors and file handles. */
export function pathOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return isNormalAbsolute(arg) ? arg : resolve(arg);
  if (arg instanceof URL) return arg.protocol === 'file:' ? fileURLToPath(arg) : undefined;
  if (Buffer.isBuffer(arg)) return resolve(arg.toString());
  return undefined;
}

/** `/a/b`: what `resolve` would return unchanged (it asks for the working directory first). */
const NOT_NORMAL = /\/\/|\/\.\.?(?:\/|$)|.\/$|\0/;
function isNormalAbsolute(path: string): boolean {
  return path.charCodeAt(0) === 47 && !NOT_NORMAL.test(path);
}

function isWriteFlag(flags: unknown): boolean {
  if (flags === undefined || flags === null) return false;
  if (typeof flags === 'number')
    return (flags & (fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT)) !== 0;
  return /[wa+]/.test(String(flags));
}

/**
 * The error Node's `syscall` gives for `path` when the path does not exist (ENOENT, or ENOTDIR
 * for a path through a file), or undefined when it exists or leash cannot tell.
 */
function absence(syscall: string, path: string): NodeJS.ErrnoException | undefined {
  depth++;
  try {
    lstatSync(path);
    return undefined;
  } catch (error) {
    const { code, errno } = error as NodeJS.ErrnoException;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined;
    const message = code === 'ENOENT' ? 'no such file or directory' : 'not a directory';
    const answer: NodeJS.ErrnoException = new Error(`${code}: ${message}, ${syscall} '${path}'`);
    if (errno !== undefined) answer.errno = errno;
    return Object.assign(answer, { code, syscall, path });
  } finally {
    depth--;
  }
}

/**
 * Runs the checks for one call; throws the refusal. For a probe (`name` in PROBES) of an absent
 * path the policy does not grant, returns the error Node would give instead.
 */
function checkArgs(
  context: RuntimeContext,
  accesses: readonly Access[],
  args: readonly unknown[],
  name: string,
  /** The wrapper the service called: attribution reads the stack from right below it. */
  entry: AnyFunction,
): NodeJS.ErrnoException | undefined {
  if (depth > 0) return undefined;
  if (name.startsWith('mkdtemp')) {
    const prefix = pathOf(args[0]);
    if (prefix !== undefined) noteMkdtempPrefix(prefix);
  }
  const probe = PROBES.has(name);
  let absent: NodeJS.ErrnoException | undefined;
  // A loop, not forEach: the look at the stack walks every frame above the wrapper.
  for (let i = 0; i < accesses.length; i++) {
    const access = accesses[i];
    if (access === 'none') continue;
    const path = pathOf(args[i]);
    if (path === undefined) continue;
    let capability: Capability = access === 'write' ? 'fs.write' : 'fs.read';
    if (access === 'open') {
      const flags =
        typeof args[1] === 'object' && args[1] !== null
          ? (args[1] as { flags?: unknown }).flags
          : args[1];
      capability = isWriteFlag(flags) ? 'fs.write' : 'fs.read';
    }
    // `mkdir -p` and `rm -r` touch more than the named path; Node's own flags cover the rest.
    const excuse = probe
      ? () => {
          absent = absence(name, path);
          return absent !== undefined;
        }
      : undefined;
    context.check(capability, path, excuse, entry);
  }
  return absent;
}

/** The function's name without `Sync`: the syscall its errors name. */
const probeName = (name: string): string => name.replace(/Sync$/, '');

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * Depth of wrapped calls in progress (the synchronous part of each). Some functions call other
 * exported ones (Node's `readFileSync` opens with `fs.openSync`), and Node's permission-audit
 * event of a call fires inside it: the outer call was checked, so neither is checked, or counted,
 * again.
 */
let depth = 0;

/** Whether a wrapped fs call is running now: its audit events are already decided. */
export function insideWrappedCall(): boolean {
  return depth > 0;
}

/** Runs the original with the depth raised, so nested uses are not decided twice. */
function callOriginal(original: AnyFunction, self: unknown, args: unknown[]): unknown {
  depth++;
  try {
    return original.apply(self, args);
  } finally {
    depth--;
  }
}

function wrapSync(
  name: string,
  original: AnyFunction,
  context: RuntimeContext,
  accesses: readonly Access[],
): AnyFunction {
  const base = probeName(name);
  // existsSync never throws: a refused path does not exist, as far as the caller can tell.
  const wrapped =
    name === 'existsSync'
      ? function (this: unknown, ...args: unknown[]) {
          try {
            if (checkArgs(context, accesses, args, base, wrapped) !== undefined) return false;
          } catch {
            return false;
          }
          return callOriginal(original, this, args);
        }
      : function (this: unknown, ...args: unknown[]) {
          const absent = checkArgs(context, accesses, args, base, wrapped);
          if (absent !== undefined) {
            // statSync({ throwIfNoEntry: false }) answers undefined for a missing path.
            const options = args[1] as { throwIfNoEntry?: boolean } | undefined;
            if (absent.code === 'ENOENT' && options?.throwIfNoEntry === false) return undefined;
            throw absent;
          }
          return callOriginal(original, this, args);
        };
  return copyProperties(wrapped, original);
}

function wrapCallback(
  name: string,
  original: AnyFunction,
  context: RuntimeContext,
  accesses: readonly Access[],
): AnyFunction {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    let absent: NodeJS.ErrnoException | undefined;
    try {
      absent = checkArgs(context, accesses, args, name, wrapped);
    } catch (error) {
      absent = error as NodeJS.ErrnoException;
    }
    if (absent !== undefined) {
      const callback = args[args.length - 1];
      if (CALLBACK_ONLY.has(name) || typeof callback !== 'function') throw absent;
      const answer = absent;
      process.nextTick(() => (name === 'exists' ? callback(false) : callback(answer)));
      return undefined;
    }
    return callOriginal(original, this, args);
  };
  return copyProperties(wrapped, original);
}

function wrapPromise(
  name: string,
  original: AnyFunction,
  context: RuntimeContext,
  accesses: readonly Access[],
): AnyFunction {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    try {
      const absent = checkArgs(context, accesses, args, name, wrapped);
      if (absent !== undefined) return Promise.reject(absent);
    } catch (error) {
      return Promise.reject(error);
    }
    return callOriginal(original, this, args);
  };
  return copyProperties(wrapped, original);
}

function wrapStream(original: AnyFunction, context: RuntimeContext, access: Access): AnyFunction {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    try {
      checkArgs(context, [access], args, '', wrapped);
    } catch (error) {
      // An inert stream of the same direction, so the caller's `error` handler sees the refusal.
      const stream =
        access === 'read'
          ? new Readable({ read() {} })
          : new Writable({ write: (_c, _e, cb) => cb() });
      process.nextTick(() => stream.destroy(error as Error));
      return stream;
    }
    return callOriginal(original, this, args);
  };
  return copyProperties(wrapped, original);
}

function copyProperties(wrapped: AnyFunction, original: AnyFunction): AnyFunction {
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    const descriptor = Object.getOwnPropertyDescriptor(original, key);
    if (descriptor !== undefined) Object.defineProperty(wrapped, key, descriptor);
  }
  Object.defineProperty(wrapped, 'name', { value: original.name });
  return wrapped;
}

/** Wraps the fs functions; returns the function that restores them. */
export function wrapFs(context: RuntimeContext): () => void {
  const restore: Array<() => void> = [];
  const replace = (target: object, key: string, make: (original: AnyFunction) => AnyFunction) => {
    const original = (target as Record<string, unknown>)[key];
    if (typeof original !== 'function') return;
    (target as Record<string, unknown>)[key] = make(original as AnyFunction);
    restore.push(() => {
      (target as Record<string, unknown>)[key] = original;
    });
  };
  for (const [name, accesses] of Object.entries(FUNCTIONS)) {
    replace(fs, name, (o) => wrapCallback(name, o, context, accesses));
    replace(fs, `${name}Sync`, (o) => wrapSync(`${name}Sync`, o, context, accesses));
    replace(fs.promises, name, (o) => wrapPromise(name, o, context, accesses));
  }
  for (const [name, access] of Object.entries(STREAMS))
    replace(fs, name, (o) => wrapStream(o, context, access));
  // realpath.native has its own function objects.
  replace(fs.realpath, 'native', (o) => wrapCallback('realpath', o, context, ['read']));
  replace(fs.realpathSync, 'native', (o) => wrapSync('realpathSync', o, context, ['read']));
  syncBuiltinESMExports();
  return () => {
    for (const undo of restore.reverse()) undo();
    syncBuiltinESMExports();
  };
}
