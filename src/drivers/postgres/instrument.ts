/**
 * @module
 * postgres.js (`postgres` 3.4 and later 3.x). Every statement is a `Query`, a Promise subclass
 * that runs when first awaited: `then`, `catch`, `finally`, `execute`, `forEach` and `cursor` all
 * go through `Query.prototype.handle`, in the caller's async context. Tagged templates
 * (`` sql`… ${x}` ``), fragments and helpers (`sql(obj)`, `sql('column')`), `sql.unsafe`,
 * `sql.file`, and the statements of `sql.begin` and `sql.reserve` are all such queries.
 *
 * The statement's text is final only when a connection builds it (values become `$1…`, fragments
 * and helpers are inlined with the connection's transforms, a file is read), and a queued query is
 * built when some connection frees up, in whichever request's context that is. So `handle` keeps a
 * snapshot of the caller's context and watches the moment the connection's build assigns the
 * query's parameters (its text is set just before): the statement is decided there, inside the
 * snapshot. A refusal is thrown inside the build, which postgres.js answers as it does any build
 * error (an undefined value): the query's promise rejects, and nothing is written to the server.
 * The rows a query resolves with are remembered for `=result` constraints.
 *
 * A query postgres.js makes for itself on a new connection (its array types, the server's
 * read-only state) has no canceller, unlike every query made through `sql`: it is not the
 * service's, and is not checked. Loading postgres.js starts loading the PostgreSQL parser; a query
 * that runs before it is ready starts once it is (a failure to load it leaves the query to be
 * refused at its build, as unparsable). Not covered: isolated workers (no request token is added to the
 * text for the proxy, which then refuses the statement).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { defineInstrumentation, type Instrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';
import type { Recorder, SqlChecker } from '../../modules/sql/check.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** What leash reads and sets of postgres.js's Query (query.js, connection.js's `build`). */
interface Query {
  /** Set by `sql` on every query it makes; absent on the driver's own. */
  readonly canceller?: unknown;
  readonly executed?: boolean;
  /** The built text, set by the connection just before `parameters`. */
  readonly string?: unknown;
  parameters?: unknown;
  resolve?: (result: unknown) => unknown;
}

/** The rows of a result: a Result is an array of row objects (`values()` rows are arrays). */
function rowsOf(result: unknown): unknown[] {
  if (!Array.isArray(result)) return [];
  return result.filter((row) => row !== null && typeof row === 'object' && !Array.isArray(row));
}

/**
 * Decides the query when its connection builds it, in the caller's context; remembers the rows
 * it resolves with.
 */
function decideAtBuild(query: Query, checker: SqlChecker): void {
  const caller = AsyncLocalStorage.snapshot();
  let parameters: unknown;
  let remember: Recorder | undefined;
  Object.defineProperty(query, 'parameters', {
    configurable: true,
    enumerable: true,
    get: () => parameters,
    set(value: unknown) {
      parameters = value;
      // A retried prepared statement is built again: it was decided the first time.
      if (remember !== undefined || typeof query.string !== 'string') return;
      const text = query.string;
      const positional = Array.isArray(value) ? value : [];
      remember = caller(() => checker.check('postgres', text, { positional }));
    },
  });
  const resolve = query.resolve;
  if (typeof resolve !== 'function') return;
  query.resolve = (result: unknown) => {
    if (remember !== undefined) remember(rowsOf(result));
    return resolve(result);
  };
}

/** Queries held until the PostgreSQL parser is loaded (their `handle` runs once it is). */
const held = new WeakSet<object>();

function wrapHandle(original: AnyFunction, checker: SqlChecker): AnyFunction {
  return function (this: unknown) {
    const query = this as Query;
    if (query.executed === true || !query.canceller) return original.apply(this, []);
    if (held.has(query)) return undefined;
    decideAtBuild(query, checker);
    if (!checker.mustWait('postgres')) return original.apply(this, []);
    // A query is built, and so decided, only once it runs: while the parser is still loading (it
    // starts when postgres.js is loaded), the query starts running once it is, in call order.
    let handled: ((value: unknown) => void) | undefined;
    const later = new Promise((resolve) => {
      handled = resolve;
    });
    const run = () => {
      held.delete(query);
      handled!(original.apply(query, []));
    };
    checker.defer('postgres', run, run);
    held.add(query);
    return later;
  };
}

/**
 * `postgres`: the CommonJS build's query.js (`require('postgres')`) and the ES module build's
 * (`import postgres from 'postgres'`), each its own Query class. Enforcement depends on it, so an
 * unsupported version refuses to start in enforce mode.
 */
export function postgresInstrumentation(checker: SqlChecker): Instrumentation {
  const patch = (exports: unknown): (() => void) => {
    // The service uses PostgreSQL: the parser loads now, before its first connection is open.
    checker.expect('postgres');
    const proto = (exports as { Query?: { prototype?: Record<string, AnyFunction> } }).Query
      ?.prototype;
    if (typeof proto?.handle !== 'function') return () => {};
    return wrap(proto, 'handle', (original) => wrapHandle(original, checker));
  };
  return defineInstrumentation({
    package: 'postgres',
    purpose: 'SQL statements of tagged templates, `sql.unsafe`, `sql.file`, `sql.begin`',
    consequence: 'its queries would not be checked',
    failClosed: true,
    files: [
      { file: 'cjs/src/query.js', versions: '>=3.4.0 <4', patch },
      { file: 'src/query.js', versions: '>=3.4.0 <4', patch },
    ],
  });
}
