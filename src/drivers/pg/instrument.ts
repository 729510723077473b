/**
 * @module
 * node-postgres (`pg` 8): `Client.prototype.query` (in pg's lib/client.js) is wrapped (a Pool's queries go through its
 * clients), so text queries, parameterised queries and query config objects are checked before
 * they are queued, and the rows they return are remembered for `=result` constraints. A refusal
 * follows pg's convention: the callback gets the error, or the returned promise rejects. Loading
 * pg starts loading the PostgreSQL parser; a query made before it is ready waits for it.
 */
import { defineInstrumentation, type Instrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';
import { withToken } from '../../isolate/gate.ts';
import { isolationHooks } from '../../isolate/worker/hooks.ts';
import type { UseContext } from '../../module/module.ts';
import { type Recorder, recordsNothing, type SqlChecker } from '../../modules/sql/check.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

interface QueryConfig {
  readonly text?: unknown;
  readonly values?: unknown;
  callback?: unknown;
}

/** Set on a query config that a Pool already decided, in the caller's context. */
const DECIDED = Symbol('leash.pg.decided');

/** The isolation token of the caller's request, carried like DECIDED to the client's query. */
const TOKEN = Symbol('leash.pg.token');

interface Decided {
  [DECIDED]?: Recorder;
  [TOKEN]?: string;
}

/**
 * In an isolated worker, a statement's text carries its request's token to the proxy; and named
 * prepared statements become unnamed ones, because a named one is parsed once and later runs
 * would carry no text (and so no token).
 */
function forProxy(args: unknown[], token: string | undefined): unknown[] {
  const config = args[0];
  const text = typeof config === 'string' ? config : (config as QueryConfig | null)?.text;
  if (typeof text !== 'string') return args;
  const marked = token === undefined ? text : withToken(text, token);
  if (typeof config === 'string') return [marked, ...args.slice(1)];
  const copy: Record<string | symbol, unknown> = { ...(config as object), text: marked };
  delete copy.name;
  return [copy, ...args.slice(1)];
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
  // No constraint uses these rows: the query runs as the service called it.
  if (recordsNothing(remember)) return original.apply(self, args);
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

/**
 * Decides the statement, then `run`s the query with how to remember its rows (a refusal answers
 * as pg answers errors). While the PostgreSQL parser is still loading (it starts when pg is
 * loaded), both wait for it, in call order and the caller's context, and the query answers as pg
 * does, later: its callback, or the promise returned now. A Submittable (a cursor, a stream),
 * returned by pg as it is, cannot wait: it is decided at once (refused while the parser loads).
 */
function decideThen(
  checker: SqlChecker,
  args: readonly unknown[],
  statement: { text: string; values: unknown[] },
  run: (remember: Recorder) => unknown,
): unknown {
  const decide = (caller?: UseContext): unknown => {
    let remember: Recorder;
    try {
      remember = checker.check(
        'postgres',
        statement.text,
        { positional: statement.values },
        caller,
      );
    } catch (error) {
      return refuse(args, error);
    }
    return run(remember);
  };
  if (
    !checker.mustWait('postgres') ||
    typeof (args[0] as { submit?: unknown } | null)?.submit === 'function'
  )
    return decide();
  const answersLater =
    args.some((a) => typeof a === 'function') ||
    typeof (args[0] as QueryConfig | null)?.callback === 'function';
  let settle: ((value: unknown) => void) | undefined;
  const answer = answersLater
    ? undefined
    : new Promise((resolve) => {
        settle = resolve;
      });
  checker.defer(
    'postgres',
    (caller) => {
      // A query that throws at once (a closed client) rejects the promise, as pg's would.
      try {
        const out = decide(caller);
        settle?.(out);
      } catch (error) {
        if (settle === undefined) throw error;
        settle(Promise.reject(error));
      }
    },
    (error) => {
      const refused = refuse(args, error);
      settle?.(refused);
    },
  );
  return answer;
}

/** Client.prototype.query: decide, unless a Pool already did in the caller's context. */
function wrapClientQuery(original: AnyFunction, checker: SqlChecker): AnyFunction {
  return function (this: unknown, ...given: unknown[]) {
    const isolation = isolationHooks();
    const args =
      isolation === undefined
        ? given
        : forProxy(given, (given[0] as Decided | null)?.[TOKEN] ?? isolation.tokenOf());
    const decided = (args[0] as Decided | null)?.[DECIDED];
    if (decided !== undefined) return runRemembering(original, this, args, decided);
    const statement = statementOf(given);
    if (statement === undefined) return original.apply(this, args);
    return decideThen(checker, args, statement, (remember) =>
      runRemembering(original, this, args, remember),
    );
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
    // The request's token, read now: a query that waits for the parser runs in its context too.
    const token = isolationHooks()?.tokenOf();
    return decideThen(checker, args, statement, (remember) => {
      const config: QueryConfig & Decided =
        typeof args[0] === 'string' ? { text: args[0] } : { ...(args[0] as QueryConfig) };
      config[DECIDED] = remember;
      if (token !== undefined) config[TOKEN] = token;
      return original.apply(this, [config, ...args.slice(1)]);
    });
  };
}

/**
 * `pg` and `pg-pool`: pg's own lib/client.js, and pg-pool (a service that imports pg from ESM
 * never calls require('pg'), but pg's index requires both, which the layer sees). Enforcement
 * depends on them, so an unsupported version refuses to start in enforce mode.
 */
export function pgInstrumentations(checker: SqlChecker): Instrumentation[] {
  const patchQuery =
    (wrapQuery: (original: AnyFunction, checker: SqlChecker) => AnyFunction) =>
    (exports: unknown): (() => void) => {
      const proto = (exports as { prototype?: Record<string, AnyFunction> }).prototype;
      if (typeof proto?.query !== 'function') return () => {};
      // The service uses PostgreSQL: the parser loads now, while it connects.
      checker.expect('postgres');
      return wrap(proto, 'query', (original) => wrapQuery(original, checker));
    };
  return [
    defineInstrumentation({
      package: 'pg',
      purpose: 'SQL statements of `Client#query`',
      consequence: 'its queries would not be checked',
      failClosed: true,
      // pg 8.0.0 to 8.0.2 never finish connecting on the Node leash runs on, so the range
      // starts at 8.0.3 (which needs pg-pool ^3.1.1: the pool's range starts there too).
      files: [
        { file: 'lib/client.js', versions: '>=8.0.3 <9', patch: patchQuery(wrapClientQuery) },
      ],
    }),
    defineInstrumentation({
      package: 'pg-pool',
      purpose: "SQL statements of `Pool#query`, decided in the caller's context",
      consequence: "pooled queries would be decided in another request's context",
      failClosed: true,
      files: [{ file: '', versions: '>=3.1.1 <4', patch: patchQuery(wrapPoolQuery) }],
    }),
  ];
}
