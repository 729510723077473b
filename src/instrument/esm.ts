/**
 * @module
 * ES modules on the instrumentation layer. require-in-the-middle sees `require` only, so the ESM
 * build of a package that ships one (postgres.js: `import postgres from 'postgres'` loads its
 * `src/`, `require` its `cjs/src/`) would run unpatched. Node 26's synchronous, in-thread
 * `module.registerHooks()` sees every module as it loads; its load hook appends to each file a
 * target declares three statements: an import of the module's own namespace (a module may import
 * itself), an import of this module, and a call of `loaded()` with both. The call runs right
 * after the module's own body and before the body of any module that imports it, so the patch
 * (in place, on the prototypes the namespace exports) is there before the service's first call.
 * Nothing else of the file changes: its lines, and so its stack traces, stay as they were.
 *
 * An ES module's exports cannot be replaced, only patched in place; and a module evaluates once,
 * so the namespaces seen so far are kept, for an instrumentation enabled again after a disable.
 */
import { registerHooks } from 'node:module';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where a loaded file is: its package, the path inside it (`src/query.js`), the package's directory. */
export interface EsmFile {
  readonly package: string;
  readonly file: string;
  readonly basedir: string;
}

type Listener = (namespace: object, where: EsmFile) => void;

/** What each enabled hook wants, by id: the id is written into the files it rewrote. */
const listeners = new Map<
  number,
  { readonly packages: readonly string[]; readonly listener: Listener }
>();
/** Every file rewritten so far, by URL: what a later enable patches at once. */
const seen = new Map<string, { readonly where: EsmFile; readonly namespace: object }>();
let lastId = 0;

/** This module's URL, which the rewritten files import. */
const SELF = import.meta.url;
const NODE_MODULES = `${sep}node_modules${sep}`;

/**
 * The package and file of a module URL inside a `node_modules` directory, for one of `packages`
 * (longest first, so `pg-pool` is not read as a file of `pg`), or undefined.
 */
function locate(url: string, packages: readonly string[]): EsmFile | undefined {
  if (!url.startsWith('file:')) return undefined;
  const path = fileURLToPath(url);
  const at = path.lastIndexOf(NODE_MODULES);
  if (at === -1) return undefined;
  const inside = path
    .slice(at + NODE_MODULES.length)
    .split(sep)
    .join('/');
  const pkg = packages.find((name) => inside.startsWith(`${name}/`));
  if (pkg === undefined) return undefined;
  return {
    package: pkg,
    file: inside.slice(pkg.length + 1),
    basedir: path.slice(0, at + NODE_MODULES.length + pkg.length),
  };
}

/**
 * Called by each rewritten file once its body has run (the appended statements): hands the
 * module's namespace to the hook that rewrote it. Exported for those files only; called with
 * anything else it only hands an object to a patch that expects the file's exports.
 */
export function loaded(id: number, url: string, namespace: object): void {
  const hook = listeners.get(id);
  if (hook === undefined) return;
  const where = locate(url, hook.packages);
  if (where === undefined) return;
  seen.set(url, { where, namespace });
  hook.listener(namespace, where);
}

function text(source: unknown): string | undefined {
  if (typeof source === 'string') return source;
  if (source instanceof Uint8Array) return Buffer.from(source).toString('utf8');
  if (source instanceof ArrayBuffer) return Buffer.from(source).toString('utf8');
  return undefined;
}

/**
 * Hooks the ES modules of `packages` whose file `wants` accepts: `listener` gets each one's
 * namespace as it loads (and at once, each one an earlier hook saw load). Returns the unhook.
 */
export function hookEsm(
  packages: readonly string[],
  wants: (where: EsmFile) => boolean,
  listener: Listener,
): () => void {
  const id = ++lastId;
  const names = [...packages].sort((a, b) => b.length - a.length);
  listeners.set(id, { packages: names, listener });
  const hooks = registerHooks({
    load(url, context, nextLoad) {
      const result = nextLoad(url, context);
      if (result.format !== 'module') return result;
      const where = locate(url, names);
      if (where === undefined || !wants(where)) return result;
      const source = text(result.source);
      if (source === undefined) return result;
      const target = JSON.stringify(url);
      return {
        ...result,
        source:
          `${source}\n;import * as __leashSelf from ${target};` +
          `import { loaded as __leashLoaded } from ${JSON.stringify(SELF)};` +
          `__leashLoaded(${id}, ${target}, __leashSelf);\n`,
      };
    },
  });
  for (const { where, namespace } of seen.values())
    if (names.includes(where.package) && wants(where)) listener(namespace, where);
  return () => {
    hooks.deregister();
    listeners.delete(id);
  };
}
