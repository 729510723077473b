/**
 * @module
 * Whether the code calling one of leash's switches (`internal()`, which turns the checks off for
 * leash's own I/O, and `runInRequest`/`runOutsideRequest`, which set the scope) is leash's own.
 * Those functions are module exports, so any code in the service can import them by file path;
 * called from anywhere else they do nothing (the red team's "off switch importable by path").
 *
 * The stack is read with what was captured when this file loaded, before the service's code runs:
 * `Error.captureStackTrace`, a CallSite's `getFileName`, `Reflect.apply`, and a check that
 * `Error.prepareStackTrace` really holds the function set here (an accessor the service defined
 * could answer with forged frames). Anything unexpected counts as "not leash".
 */
import { dirname, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const captureStackTrace = Error.captureStackTrace;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const reflectApply = Reflect.apply;
const isArray = Array.isArray;
const stringStartsWith = String.prototype.startsWith;
const toSites = (_: Error, sites: NodeJS.CallSite[]) => sites;
// A builtin's named export is a live binding: after `require('node:url').fileURLToPath = …` and
// `syncBuiltinESMExports()` it would answer with a leash path for any caller. Keep the original.
const toFilePath = fileURLToPath;

/** Leash's package: `src/` or `dist/` and, in a checkout, `bench/` (its benchmarks drive scopes). */
const root = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const TRUSTED = [
  `${dirname(dirname(fileURLToPath(import.meta.url)))}${sep}`,
  `${root}${sep}bench${sep}`,
];

function rawSites(frames: number, below: (...args: never[]) => unknown): unknown {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  try {
    Error.prepareStackTrace = toSites;
    Error.stackTraceLimit = frames;
    const descriptor = getOwnPropertyDescriptor(Error, 'prepareStackTrace');
    if (descriptor === undefined || descriptor.value !== toSites) return undefined;
    const holder: { stack?: unknown } = {};
    captureStackTrace(holder, below);
    return holder.stack;
  } catch {
    return undefined;
  } finally {
    try {
      Error.prepareStackTrace = prepare;
      Error.stackTraceLimit = limit;
    } catch {}
  }
}

// The genuine getFileName, taken from a CallSite of this file now.
const sample = rawSites(1, rawSites);
const getFileName: ((this: NodeJS.CallSite) => string | undefined) | undefined =
  isArray(sample) && sample[0] !== undefined
    ? Object.getPrototypeOf(sample[0]).getFileName
    : undefined;

/** The file of the function that called `fn` (`fn` being the switch that asks). */
function fileCalling(fn: (...args: never[]) => unknown): string | undefined {
  const sites = rawSites(1, fn);
  if (!isArray(sites) || sites[0] === undefined || getFileName === undefined) return undefined;
  const name = reflectApply(getFileName, sites[0], []) as unknown;
  if (typeof name !== 'string') return undefined;
  return reflectApply(stringStartsWith, name, ['file://']) ? toFilePath(name) : name;
}

/** Whether the caller of `fn` is a file of leash's own. */
export function calledFromLeash(fn: (...args: never[]) => unknown): boolean {
  const file = fileCalling(fn);
  if (file === undefined) return false;
  for (const dir of TRUSTED) if (reflectApply(stringStartsWith, file, [dir])) return true;
  return false;
}
