/**
 * @module
 * node-postgres (`pg` 8): `Client.prototype.query` (in pg's lib/client.js) is wrapped (a Pool's queries go through its
 * clients), so text queries, parameterised queries and query config objects are checked before
 * they are queued, and the rows they return are remembered for `=result` constraints. A refusal
 * follows pg's convention: the callback gets the error, or the returned promise rejects.
 */
import { Hook } from 'require-in-the-middle';
import { LeashError } from '../../errors.ts';
import { unsupportedVersion } from '../../instrument/package-version.ts';
import type { Recorder, SqlChecker } from '../../modules/sql/check.ts';

const SUPPORTED_MAJOR = 8;
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

interface QueryConfig {
  readonly text?: unknown;
  readonly values?: unknown;
  callback?: unknown;
}

/** Set on a query config that a Pool already decided, in the caller's context. */
const DECIDED = Symbol('leash.pg.decided');

interface Decided {
  [DECIDED]?: Recorder;
}

/** The text and values of a `query(...)` call, or undefined for a Submittable without text. */
function statementOf(args: readonly unknown[]): { text: string; values: unknown[] } | undefined {
  const config = args[0];
  const text = typeof config === 'string' ? config : (config as QueryConfig | null)?.text;
  if (typeof text !== 'string') return undefined;
  const values = Array.isArray(args[1]) ? args[1] : (config as QueryConfig).values;
  return { text, values: Array.isArray(values) ? values : [] };
}

/** Refuses a query the way pg reports errors: to the callback, else as a rejected promise. */
function refuse(args: readonly unknown[], error: unknown): unknown {
  const at = args.findIndex((a) => typeof a === 'function');
  const callback = at === -1 ? (args[0] as QueryConfig | null)?.callback : args[at];
  if (typeof callback === 'function') {
    process.nextTick(() => callback(error));
    return undefined;
  }
  return Promise.reject(error);
}

/** Calls the original query, handing the rows it returns to `remember`. */
function runRemembering(
  original: AnyFunction,
  self: unknown,
  args: unknown[],
  remember: Recorder,
): unknown {
  const at = args.findIndex((a) => typeof a === 'function');
  if (at !== -1) {
    const callback = args[at] as (error: unknown, result?: { rows?: unknown[] }) => void;
    args[at] = (error: unknown, result?: { rows?: unknown[] }) => {
      if (!error && result?.rows) remember(result.rows);
      callback(error, result);
    };
    return original.apply(self, args);
  }
  const result = original.apply(self, args);
  if (result instanceof Promise) {
    return result.then((value: { rows?: unknown[] }) => {
      if (value?.rows) remember(value.rows);
      return value;
    });
  }
  return result;
}

/** Client.prototype.query: decide, unless a Pool already did in the caller's context. */
function wrapClientQuery(original: AnyFunction, checker: SqlChecker): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    const decided = (args[0] as Decided | null)?.[DECIDED];
    if (decided !== undefined) return runRemembering(original, this, args, decided);
    const statement = statementOf(args);
    if (statement === undefined) return original.apply(this, args);
    let remember: Recorder;
    try {
      remember = checker.check('postgres', statement.text, { positional: statement.values });
    } catch (error) {
      return refuse(args, error);
    }
    return runRemembering(original, this, args, remember);
  };
}

/**
 * Pool.prototype.query (pg-pool): the client's query runs later, in a callback whose async
 * context is whichever request released a client, so the decision is made here, and the query
 * config carries it to the client.
 */
function wrapPoolQuery(original: AnyFunction, checker: SqlChecker): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    const statement = statementOf(args);
    if (statement === undefined) return original.apply(this, args);
    let remember: Recorder;
    try {
      remember = checker.check('postgres', statement.text, { positional: statement.values });
    } catch (error) {
      return refuse(args, error);
    }
    const config: QueryConfig & Decided =
      typeof args[0] === 'string' ? { text: args[0] } : { ...(args[0] as QueryConfig) };
    config[DECIDED] = remember;
    return original.apply(this, [config, ...args.slice(1)]);
  };
}

function patchOnce(
  proto: Record<string, AnyFunction> | undefined,
  wrap: (original: AnyFunction) => AnyFunction,
  restores: Array<() => void>,
): void {
  if (proto?.query === undefined || Object.hasOwn(proto.query, 'leashWrapped')) return;
  const original = proto.query;
  const wrapped = wrap(original);
  Object.defineProperty(wrapped, 'leashWrapped', { value: true });
  proto.query = wrapped;
  restores.push(() => {
    proto.query = original;
  });
}

/**
 * Hooks `pg` for the rest of the process. An unsupported version is left alone with a warning, or,
 * when `failClosed` (enforce mode), refused: loading it throws ERR_LEASH_UNPATCHED, because its
 * queries would run unchecked.
 */
export function instrumentPg(
  checker: SqlChecker,
  warn: (message: string) => void,
  failClosed: boolean,
): () => void {
  const restores: Array<() => void> = [];
  // pg's own lib/client.js, and pg-pool: a service that imports pg from ESM never calls
  // require('pg'), but pg's index requires both, which require-in-the-middle sees.
  const hook = new Hook(['pg', 'pg-pool'], { internals: true }, (exports, name, basedir) => {
    const isClient = name === 'pg/lib/client.js' || name === 'pg/lib/client';
    if (!isClient && name !== 'pg-pool') return exports;
    if (isClient) {
      const unsupported = unsupportedVersion(
        basedir,
        'pg',
        SUPPORTED_MAJOR,
        'its queries would not be checked',
      );
      if (unsupported !== undefined) {
        if (failClosed) throw new LeashError('ERR_LEASH_UNPATCHED', unsupported);
        warn(unsupported);
        return exports;
      }
    }
    const proto = (exports as { prototype?: Record<string, AnyFunction> }).prototype;
    patchOnce(
      proto,
      (original) => (isClient ? wrapClientQuery : wrapPoolQuery)(original, checker),
      restores,
    );
    return exports;
  });
  return () => {
    hook.unhook();
    for (const restore of restores.reverse()) restore();
  };
}
