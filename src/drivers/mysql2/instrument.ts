/**
 * @module
 * mysql2 (3.x), for MySQL and MariaDB. Every statement goes through the base connection
 * (lib/base/connection.js): the callback API, `mysql2/promise` (its connection calls the core
 * one) and pools (a pool hands its command to a connection's `query`/`execute`). So
 * `BaseConnection.prototype.query`, `execute` and `prepare` are wrapped, and each statement is
 * decided before its command is queued:
 *
 * - `query`: mysql2 formats the values into the text client-side (`?`, `??`, arrays, objects,
 *   `toSqlString()` values, named placeholders, a custom `queryFormat`), so the formatted text, the
 *   one the server will get, is decided, with the values as literals of the template.
 * - `execute`: a real prepared statement; its text (named placeholders resolved to `?`) and values.
 * - `prepare` + `statement.execute(values)`: the statement's text and the values, at each execute.
 *
 * A pool runs its command later, on a connection, in the async context of whichever request
 * released it: `BasePool.prototype.query`/`execute` capture the caller's context at entry
 * (`AsyncLocalStorage.snapshot()`) and bind its callback to it, and the connection decides in that
 * context (the formatted text exists only there). A refusal follows mysql2's convention: the
 * callback gets the error (the promise API rejects), else the command emits `error`; then `end`,
 * so a pool releases the connection. Rows of a result are remembered for `=result` constraints.
 *
 * A connection in `NO_BACKSLASH_ESCAPES` mode (which mysql2 tracks) is decided in the `mysql-nbe`
 * dialect, where a backslash in a string is itself. Not covered: `PoolCluster#query` (decided in
 * the connection's context), `prepare()` without a callback.
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { defineInstrumentation, type Instrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';
import type { Recorder, SqlChecker } from '../../modules/sql/check.ts';
import type { SqlDialect } from '../../modules/sql/template.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
/** Runs `fn` in the async context captured by `AsyncLocalStorage.snapshot()`. */
type InContext = <R>(fn: () => R) => R;

/** Set by a pool on the command (or options) it hands to a connection: the caller's context. */
const CALLER = Symbol('leash.mysql2.caller');
/** Set on a prepared statement whose `execute` is wrapped. */
const WRAPPED = Symbol('leash.mysql2.wrapped');

interface Marked {
  [CALLER]?: InContext;
}

/** A command as mysql2 builds it (lib/commands/query.js, execute.js). */
interface Command extends EventEmitter, Marked {
  sql: string;
  values?: unknown;
  namedPlaceholders?: unknown;
  onResult?: AnyFunction;
}

interface Connection {
  readonly config: unknown;
  readonly constructor: {
    createQuery(sql: unknown, values: unknown, cb: unknown, config: unknown): Command;
  };
  format(sql: string, values: unknown, namedPlaceholders?: unknown): string;
  _sqlMode?(): { readonly noBackslashEscapes?: boolean } | undefined;
  _resolveNamedPlaceholders(options: {
    sql: unknown;
    values?: unknown;
    namedPlaceholders?: unknown;
  }): void;
}

interface PreparedStatement {
  readonly query: string;
  execute: AnyFunction;
  [WRAPPED]?: true;
}

const isCommand = (value: unknown): value is Command =>
  typeof value === 'object' &&
  value !== null &&
  value instanceof EventEmitter &&
  typeof (value as { sql?: unknown }).sql === 'string';

/** The rows of a result (a SELECT's array; each array of a multi-statement result), if any. */
function rowsOf(result: unknown): unknown[] {
  if (!Array.isArray(result)) return [];
  if (result.every((item) => Array.isArray(item) || isHeader(item))) {
    return result.flatMap((item) => (Array.isArray(item) ? item : []));
  }
  return result;
}
/** An OK packet (`ResultSetHeader`): counts, not values a later statement would use. */
const isHeader = (item: unknown): boolean =>
  typeof item === 'object' && item !== null && item.constructor?.name === 'ResultSetHeader';

/** For a command without a callback, which emits each row (or OK packet) as `result`. */
const rememberRow =
  (remember: Recorder) =>
  (row: unknown): void => {
    if (typeof row === 'object' && row !== null && !isHeader(row)) remember([row]);
  };

/** The callback, bound to the caller's context, handing rows to `remember` first. */
function remembering(callback: AnyFunction, remember: Recorder): AnyFunction {
  return AsyncResource.bind(function (this: unknown, error: unknown, result: unknown) {
    if (error == null) {
      const rows = rowsOf(result);
      if (rows.length > 0) remember(rows);
    }
    // biome-ignore lint/complexity/noArguments: mysql2's callbacks take (error, rows, fields).
    return callback.apply(this, arguments as unknown as unknown[]);
  });
}

/** Reports a refusal the way mysql2 reports an error, and ends the command (a pool releases). */
function refuse(command: EventEmitter & { onResult?: AnyFunction }, error: unknown): void {
  process.nextTick(() => {
    if (typeof command.onResult === 'function') command.onResult(error);
    else command.emit('error', error);
    command.emit('end');
  });
}

/**
 * How the server will read a backslash in a string: mysql2 knows the connection's mode from its
 * config and from the server's status flags (`SET sql_mode = 'NO_BACKSLASH_ESCAPES'` turns it on).
 */
function dialectOf(connection: Connection): SqlDialect {
  return connection._sqlMode?.()?.noBackslashEscapes === true ? 'mysql-nbe' : 'mysql';
}

function decide(
  checker: SqlChecker,
  connection: Connection,
  caller: InContext | undefined,
  sql: string,
  values: readonly unknown[],
): Recorder {
  const check = () => checker.check(dialectOf(connection), sql, { positional: values });
  return caller === undefined ? check() : caller(check);
}

function wrapQuery(original: AnyFunction, checker: SqlChecker): AnyFunction {
  return function (this: unknown, sql: unknown, values?: unknown, cb?: unknown) {
    const connection = this as Connection;
    // The command mysql2 would build, with the text it would send.
    const command = isCommand(sql)
      ? sql
      : connection.constructor.createQuery(sql, values, cb, connection.config);
    connection._resolveNamedPlaceholders(command);
    const text = connection.format(
      command.sql,
      command.values !== undefined ? command.values : [],
      command.namedPlaceholders,
    );
    let remember: Recorder;
    try {
      remember = decide(checker, connection, command[CALLER], text, []);
    } catch (error) {
      refuse(command, error);
      return command;
    }
    if (typeof command.onResult === 'function') {
      command.onResult = remembering(command.onResult, remember);
    } else {
      command.on('result', rememberRow(remember));
    }
    return original.call(this, command);
  };
}

function wrapExecute(original: AnyFunction, checker: SqlChecker): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    const connection = this as Connection;
    const [sql, values] = args;
    // The statement and values as mysql2's execute reads them (named placeholders resolved).
    const options =
      typeof sql === 'object' && sql !== null
        ? {
            sql: (sql as Command).sql,
            values:
              typeof values === 'function'
                ? (sql as Command).values
                : (sql as Command).values || values,
            namedPlaceholders: (sql as Command).namedPlaceholders,
          }
        : { sql, values: typeof values === 'function' ? undefined : values };
    connection._resolveNamedPlaceholders(options);
    if (typeof options.sql !== 'string') return original.apply(this, args);
    const at = args.findIndex((arg) => typeof arg === 'function');
    let remember: Recorder;
    try {
      remember = decide(
        checker,
        connection,
        (sql as Marked | null)?.[CALLER],
        options.sql,
        Array.isArray(options.values) ? options.values : [],
      );
    } catch (error) {
      const refused = new EventEmitter() as EventEmitter & { onResult?: AnyFunction };
      if (at !== -1) refused.onResult = args[at] as AnyFunction;
      refuse(refused, error);
      return refused;
    }
    if (at !== -1) {
      args[at] = remembering(args[at] as AnyFunction, remember);
      return original.apply(this, args);
    }
    const command = original.apply(this, args) as EventEmitter;
    command.on('result', rememberRow(remember));
    return command;
  };
}

/** A prepared statement's `execute(values, cb)`: decided at each call, with its values. */
function wrapStatement(
  statement: PreparedStatement,
  connection: Connection,
  checker: SqlChecker,
): void {
  if (statement[WRAPPED]) return;
  const execute = statement.execute;
  statement.execute = function (this: unknown, ...args: unknown[]) {
    const values = Array.isArray(args[0]) ? args[0] : [];
    const at = args.findIndex((arg) => typeof arg === 'function');
    let remember: Recorder;
    try {
      remember = checker.check(dialectOf(connection), statement.query, { positional: values });
    } catch (error) {
      const refused = new EventEmitter() as EventEmitter & { onResult?: AnyFunction };
      if (at !== -1) refused.onResult = args[at] as AnyFunction;
      refuse(refused, error);
      return refused;
    }
    if (at !== -1) args[at] = remembering(args[at] as AnyFunction, remember);
    return execute.apply(this, args);
  };
  Object.defineProperty(statement, WRAPPED, { value: true });
}

function wrapPrepare(original: AnyFunction, checker: SqlChecker): AnyFunction {
  return function (this: unknown, options: unknown, cb?: unknown) {
    if (typeof cb !== 'function') return original.call(this, options, cb);
    const callback = cb as AnyFunction;
    const connection = this as Connection;
    return original.call(
      this,
      options,
      AsyncResource.bind(function (this: unknown, error: unknown, statement: unknown) {
        if (error == null && typeof (statement as PreparedStatement | null)?.query === 'string') {
          wrapStatement(statement as PreparedStatement, connection, checker);
        }
        // biome-ignore lint/complexity/noArguments: passed through as mysql2 gives them.
        return callback.apply(this, arguments as unknown as unknown[]);
      }),
    );
  };
}

/** BasePool#query: the command it returns is run later; it carries the caller's context. */
function wrapPoolQuery(original: AnyFunction): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    const caller = AsyncLocalStorage.snapshot() as InContext;
    const at = args.findIndex((arg) => typeof arg === 'function');
    if (at !== -1) args[at] = AsyncResource.bind(args[at] as AnyFunction);
    const command = original.apply(this, args) as Marked | undefined;
    if (typeof command === 'object' && command !== null) command[CALLER] = caller;
    return command;
  };
}

/** BasePool#execute: the options it hands to a connection carry the caller's context. */
function wrapPoolExecute(original: AnyFunction): AnyFunction {
  return function (this: unknown, ...args: unknown[]) {
    const caller = AsyncLocalStorage.snapshot() as InContext;
    const at = args.findIndex((arg) => typeof arg === 'function');
    if (at !== -1) args[at] = AsyncResource.bind(args[at] as AnyFunction);
    const sql = args[0];
    if (typeof sql === 'string') args[0] = { sql, [CALLER]: caller };
    else if (typeof sql === 'object' && sql !== null) args[0] = { ...sql, [CALLER]: caller };
    return original.apply(this, args);
  };
}

type Prototype = Record<string, AnyFunction>;

function patchMethods(
  exports: unknown,
  methods: Record<string, (original: AnyFunction) => AnyFunction>,
): () => void {
  const proto = (exports as { prototype?: Prototype }).prototype;
  if (proto === undefined) return () => {};
  const restores = Object.entries(methods)
    // Only where the method is defined: a subclass file of another layout has none of its own.
    .filter(([name]) => Object.hasOwn(proto, name) && typeof proto[name] === 'function')
    .map(([name, wrapper]) => wrap(proto, name, wrapper));
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}

export function mysql2Instrumentation(checker: SqlChecker): Instrumentation {
  const connection = (exports: unknown) =>
    patchMethods(exports, {
      query: (original) => wrapQuery(original, checker),
      execute: (original) => wrapExecute(original, checker),
      prepare: (original) => wrapPrepare(original, checker),
    });
  const pool = (exports: unknown) =>
    patchMethods(exports, { query: wrapPoolQuery, execute: wrapPoolExecute });
  return defineInstrumentation({
    package: 'mysql2',
    purpose:
      "SQL statements of `Connection#query/execute/prepare` (callback and promise APIs), pools decided in the caller's context",
    consequence: 'its statements would not be checked',
    failClosed: true,
    files: [
      // The base classes every connection and pool extends; a service importing mysql2 from ESM
      // never calls require('mysql2'), but mysql2's own requires of these files are seen.
      { file: 'lib/base/connection.js', versions: '>=3.11.5 <4', patch: connection },
      { file: 'lib/base/pool.js', versions: '>=3.11.5 <4', patch: pool },
    ],
  });
}
