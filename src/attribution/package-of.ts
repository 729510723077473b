/**
 * @module
 * Which npm package's code made a call: the innermost stack frame that is neither Node's own code
 * nor leash's, mapped to its package. The mapping uses the path alone (the segment after the last
 * `node_modules/`), so attribution never touches the file system: under `--permission` that
 * would need extra grants, and leash's own reads would be observed as the service's.
 */
import { fileURLToPath } from 'node:url';

export const APP = 'app';
export const NODE = 'node';

export interface PackageResolverOptions {
  /** Files under these directories are leash's own and are skipped. */
  readonly selfDirs: readonly string[];
}

/** What one look at the stack tells: who is calling, and whether Node's module loader is. */
export interface Caller {
  readonly package: string;
  /**
   * Node's module loader (require, import, package.json probes) is between leash and the caller,
   * or the caller is a native-addon locator (`bindings`, `node-gyp-build`).
   */
  readonly loader: boolean;
}

export interface PackageResolver {
  /** The package of the innermost foreign frame of the current stack. */
  current(): string;
  /**
   * The package and whether the module loader made the call, from a single stack capture.
   * `entry`: the wrapper the service called (an `fs` function), when the caller knows it: the
   * capture then starts right below it instead of walking leash's own frames first.
   */
  caller(entry?: (...args: never[]) => unknown): Caller;
  /**
   * The package and loader flag of the frame right below `entry`, when that frame is foreign
   * (the service's or a package's); undefined when it is Node's or leash's, or `entry` is not on
   * the stack. One frame captured.
   */
  callerBelow(entry: (...args: never[]) => unknown): Caller | undefined;
  /** The package a source file belongs to, or `undefined` when the file is leash's own. */
  ofFile(file: string): string | undefined;
}

/**
 * Packages whose one job is finding a native addon and requiring it: they walk up the tree reading
 * `package.json` files and probing `build/` directories with plain `fs` calls. That is module
 * loading by other means, and it happens wherever the addon is first needed (better-sqlite3 opens
 * its first database in the first request that uses one), so their reads count as the loader's.
 */
const ADDON_LOCATORS = new Set(['bindings', 'node-gyp-build']);

/**
 * Drop-in replacements of `fs` that pass their callers' calls on (graceful-fs retries them): a
 * call of theirs made for a write queue (below) is the queue's.
 */
const FS_SHIMS = new Set(['graceful-fs']);

/**
 * Write queues: a write asked for while another is in flight is made later, in the continuation
 * of the one before, so it lands in whichever request's async context wrote first (steno, the
 * writer of lowdb's JSON file, used by json-server). Their uses are told apart from the shim
 * they call through, so that the runtime module can treat them as the data file's, not a route's
 * (a route's ask is decided where it asks: src/modules/runtime/steno.ts).
 */
const QUEUED_WRITERS = new Set(['steno']);

/** Whether `pkg` is a write queue whose writes are the process's (see QUEUED_WRITERS). */
export function isQueuedWriter(pkg: string): boolean {
  return QUEUED_WRITERS.has(pkg);
}

/** What a walk over some frames found; see walk. */
type Walked = Caller & { readonly found: boolean; readonly open?: boolean };

const SHALLOW_FRAMES = 10;
const ENTRY_FRAMES = 1;
const MAX_FRAMES = 40;
const SKIP = Symbol('skip');

export function createPackageResolver(options: PackageResolverOptions): PackageResolver {
  const byFile = new Map<string, string | typeof SKIP>();
  const selfDirs = options.selfDirs.map((d) => (d.endsWith('/') ? d : `${d}/`));

  const classify = (file: string): string | typeof SKIP => {
    if (file.startsWith('node:') || !file.includes('/')) return SKIP;
    const path = file.startsWith('file:') ? fileURLToPath(file) : file;
    if (selfDirs.some((dir) => path.startsWith(dir))) return SKIP;
    return packageOfPath(path);
  };

  const ofFile = (file: string): string | typeof SKIP => {
    let found = byFile.get(file);
    if (found === undefined) {
      found = classify(file);
      if (byFile.size > 50_000) byFile.clear();
      byFile.set(file, found);
    }
    return found;
  };

  /**
   * Walks frames inner to outer; `found` is false when no frame is foreign (look deeper). A frame
   * of an fs shim stands for its caller when that caller is a write queue (FS_SHIMS); `open` when
   * the frames ended before the shim's caller (look deeper to know).
   */
  const walk = (sites: readonly NodeJS.CallSite[]): Walked => {
    let loader = false;
    let shim: Walked | undefined;
    for (const site of sites) {
      const file = site.getFileName();
      if (file === undefined || file === null) continue;
      if (file.startsWith('node:internal/modules/')) loader = true;
      const pkg = ofFile(file);
      if (pkg === SKIP) continue;
      if (shim !== undefined) {
        if (pkg === shim.package) continue;
        return QUEUED_WRITERS.has(pkg) ? { package: pkg, loader: shim.loader, found: true } : shim;
      }
      const found = { package: pkg, loader: loader || ADDON_LOCATORS.has(pkg), found: true };
      if (!FS_SHIMS.has(pkg)) return found;
      shim = found;
    }
    if (shim !== undefined) return { ...shim, open: true };
    // Only Node and leash on the stack: Node acting on its own (the ESM loader, say).
    return { package: NODE, loader, found: false };
  };

  const caller = (entry?: (...args: never[]) => unknown): Caller => {
    if (entry !== undefined) {
      // The frames right below the wrapper are the service's: usually the first one answers.
      // Captured here, not through callSites: the capture walks every frame above the wrapper.
      const prepare = Error.prepareStackTrace;
      const limit = Error.stackTraceLimit;
      Error.prepareStackTrace = toSites;
      Error.stackTraceLimit = ENTRY_FRAMES;
      const holder: { stack?: NodeJS.CallSite[] } = {};
      Error.captureStackTrace(holder, entry);
      const below = holder.stack ?? [];
      Error.prepareStackTrace = prepare;
      Error.stackTraceLimit = limit;
      const first = walk(below);
      if (first.found && first.open !== true) return first;
      // An fs shim's frame: who called it decides (a write queue's calls are the queue's).
      if (first.found) return walk(callSites(MAX_FRAMES, entry));
      // The wrapper was not on the stack, or only Node's frames followed it: look the usual way.
    }
    // Most calls come straight from the caller's code: a shallow capture is a third of the cost.
    const shallow = callSites(SHALLOW_FRAMES, callSites);
    const first = walk(shallow);
    if ((first.found && first.open !== true) || shallow.length < SHALLOW_FRAMES) return first;
    return walk(callSites(MAX_FRAMES, callSites));
  };

  const callerBelow = (entry: (...args: never[]) => unknown): Caller | undefined => {
    const first = walk(callSites(ENTRY_FRAMES, entry));
    return first.found ? first : undefined;
  };

  return {
    current: () => caller().package,
    caller,
    callerBelow,
    ofFile(file) {
      const pkg = ofFile(file);
      return pkg === SKIP ? undefined : pkg;
    },
  };
}

/**
 * The scope of a use and, only when something reads it, its package. Most decisions do not depend
 * on the package (an SQL statement's facts hold none), and a look at the stack is the dearest part
 * of a check; a refusal, which names the package, reads it while the caller is still on the stack.
 */
export function lazyUse(
  scope: string,
  packages: PackageResolver,
): { readonly scope: string; readonly package: string } {
  return new LazyUse(scope, packages);
}

// A class, not an object literal with a getter: a literal with an accessor is built on V8's slow
// path, once per checked use.
class LazyUse {
  readonly scope: string;
  readonly #packages: PackageResolver;
  #package: string | undefined;

  constructor(scope: string, packages: PackageResolver) {
    this.scope = scope;
    this.#packages = packages;
  }

  get package(): string {
    this.#package ??= this.#packages.current();
    return this.#package;
  }
}

/** `/app/node_modules/@scope/pkg/lib/x.js` → `@scope/pkg`; anything else → `app`. */
export function packageOfPath(path: string): string {
  const marker = '/node_modules/';
  const at = path.lastIndexOf(marker);
  if (at === -1) return APP;
  const rest = path.slice(at + marker.length).split('/');
  const first = rest[0] ?? '';
  if (first.startsWith('@') && rest[1] !== undefined) return `${first}/${rest[1]}`;
  return first === '' || first === '.bin' ? APP : first;
}

/**
 * The file of the frame right below the topmost call of `entry` (`node:child_process` when Node's
 * own code called it), or undefined when `entry` is not on the stack.
 */
export function fileBelow(entry: (...args: never[]) => unknown): string | undefined {
  return callSites(1, entry)[0]?.getFileName() ?? undefined;
}

const toSites = (_: Error, sites: NodeJS.CallSite[]) => sites;

/** Up to `frames` call sites below the topmost call of `below`; none when it is not on the stack. */
function callSites(frames: number, below: (...args: never[]) => unknown): NodeJS.CallSite[] {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  Error.prepareStackTrace = toSites;
  Error.stackTraceLimit = frames;
  const holder: { stack?: NodeJS.CallSite[] } = {};
  Error.captureStackTrace(holder, below);
  const sites = holder.stack ?? [];
  Error.prepareStackTrace = prepare;
  Error.stackTraceLimit = limit;
  return sites;
}
