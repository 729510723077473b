/**
 * @module
 * node-sqlite3 (`sqlite3` 5.x), the callback driver under Sequelize's and knex's SQLite dialects.
 * Every statement ends in a method of its native `Statement` (`Database#run/get/all/each` make a
 * Statement and call the same method on it), so `Statement.prototype.run/get/all/each` and
 * `Database.prototype.exec` are wrapped: each call is decided at entry, in the caller's context,
 * before SQLite sees it. Values bound earlier with `bind` (or `db.prepare(sql, ...values)`) are
 * remembered per statement, so a later `run()` without values is decided with them.
 *
 * The driver's callbacks come from its native thread pool, where the request's context is lost:
 * each callback is bound to the caller's context, so what it does is the route's, and the rows it
 * gets are remembered for `=result` constraints. A refusal follows sqlite3's convention: the
 * callback gets the error (with the statement as `this`), else the statement emits `error`.
 */

import { AsyncResource } from 'node:async_hooks';
import { defineInstrumentation, type Instrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';
import type { Recorder, SqlChecker, StatementParams } from '../../modules/sql/check.ts';
import { announceSqliteFile } from '../sqlite-files.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
type Method = 'run' | 'get' | 'all' | 'each';
const METHODS: readonly Method[] = ['run', 'get', 'all', 'each'];

interface Statement {
  readonly sql: string;
  emit(event: string, ...args: unknown[]): boolean;
}

/** The values of a call (callbacks removed): positional, an array, or one object of named. */
export function sqlite3Params(values: readonly unknown[]): StatementParams {
  if (values.length === 1 && Array.isArray(values[0])) return { positional: values[0] };
  const first = values[0];
  if (
    values.length === 1 &&
    typeof first === 'object' &&
    first !== null &&
    !ArrayBuffer.isView(first)
  ) {
    const named = first as Record<string, unknown>;
    // `{ 1: a, 2: b }` binds by index.
    const positional = Object.keys(named).every((key) => /^\d+$/.test(key))
      ? Object.entries(named)
          .sort(([a], [b]) => Number(a) - Number(b))
          .map(([, value]) => value)
      : [];
    return { positional, named };
  }
  return { positional: values };
}

/** Splits arguments into values and the trailing callbacks (`each` takes two). */
function splitArgs(args: readonly unknown[]): { values: unknown[]; callbacks: number } {
  let callbacks = 0;
  while (callbacks < 2 && typeof args[args.length - 1 - callbacks] === 'function') callbacks++;
  return { values: args.slice(0, args.length - callbacks), callbacks };
}

function refuse(statement: Statement, args: readonly unknown[], error: unknown): Statement {
  const callback = args.find((arg) => typeof arg === 'function') as AnyFunction | undefined;
  process.nextTick(() => {
    if (callback !== undefined) callback.call(statement, error);
    else statement.emit('error', error);
  });
  return statement;
}

/** The rows a method's callback receives, for the recorder. */
function rowsOf(method: Method, result: unknown): readonly unknown[] | undefined {
  if (method === 'all') return Array.isArray(result) ? result : undefined;
  if (method === 'get' || method === 'each') return result === undefined ? undefined : [result];
  return undefined;
}

const announcing = Symbol('leash.announcing');
const subclassed = Symbol('leash.subclassed');

type NativeClass = new (...args: unknown[]) => object;

/** Whether `name`, where `proto` or its chain holds it, cannot be assigned. */
function readOnly(proto: object, name: string): boolean {
  for (let at: object | null = proto; at !== null; at = Object.getPrototypeOf(at)) {
    const descriptor = Object.getOwnPropertyDescriptor(at, name);
    if (descriptor !== undefined) return descriptor.writable === false;
  }
  return false;
}

function patchModule(exports: unknown, checker: SqlChecker): () => void {
  const { Database, Statement } = exports as {
    Database: { prototype: Record<string, AnyFunction> };
    Statement: { prototype: Record<string, AnyFunction> };
  };
  // Every statement of the library's Database methods is made by `new Statement(db, …)`, with
  // the class lib/sqlite3.js reads from these exports after this patch: a subclass sees the
  // database first and announces its file (the kernel layer needs it in the policy). It stays
  // after unpatching (lib/sqlite3.js keeps the class it read); it does nothing while nobody
  // listens to the channel.
  const binding = exports as { Statement: NativeClass; Database: NativeClass };
  const Native = binding.Statement;
  if (!(announcing in Native)) {
    const Announcing = class extends Native {
      constructor(...args: unknown[]) {
        const database = args[0];
        if (typeof database === 'object' && database !== null)
          announceSqliteFile(database, (database as { filename?: unknown }).filename);
        super(...args);
      }
    };
    Object.defineProperty(Announcing, announcing, { value: true });
    Object.defineProperty(Announcing, 'name', { value: Native.name });
    binding.Statement = Announcing;
  }
  // sqlite3 before 5.1 (node-addon-api 2) defines its native methods read-only and
  // non-configurable, so they cannot be wrapped where they are: there the wrappers go on the
  // prototypes of subclasses the library uses in the native classes' place (lib/sqlite3.js reads
  // them from these exports after this patch, and its Database makes every Statement).
  if (readOnly(Database.prototype, 'exec') && !(subclassed in binding.Database)) {
    const Subclass = class extends binding.Database {};
    Object.defineProperty(Subclass, subclassed, { value: true });
    Object.defineProperty(Subclass, 'name', { value: binding.Database.name });
    binding.Database = Subclass;
  }
  const statements = (
    readOnly(Statement.prototype, 'run') ? binding.Statement.prototype : Statement.prototype
  ) as Record<string, AnyFunction>;
  const databases = (
    readOnly(Database.prototype, 'exec') ? binding.Database.prototype : Database.prototype
  ) as Record<string, AnyFunction>;
  /** Values bound to a statement with `bind`, used by calls that pass none. */
  const bound = new WeakMap<object, StatementParams>();
  const restores: Array<() => void> = [];

  restores.push(
    wrap(
      statements,
      'bind',
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          bound.set(this as object, sqlite3Params(splitArgs(args).values));
          return original.apply(this, args);
        },
    ),
  );
  for (const method of METHODS) {
    restores.push(
      wrap(
        statements,
        method,
        (original) =>
          function (this: unknown, ...args: unknown[]) {
            const statement = this as Statement;
            const { values } = splitArgs(args);
            let params: StatementParams;
            if (values.length > 0) {
              params = sqlite3Params(values);
              bound.set(statement, params);
            } else params = bound.get(statement) ?? { positional: [] };
            let remember: Recorder;
            try {
              remember = checker.check('sqlite', statement.sql, params);
            } catch (error) {
              return refuse(statement, args, error);
            }
            const wrapped = args.map((arg, i) => {
              if (typeof arg !== 'function') return arg;
              const callback = arg as AnyFunction;
              // The first callback gets rows (the complete callback of `each` gets a count).
              const getsRows = i === values.length;
              return AsyncResource.bind(function (this: unknown, error: unknown, result: unknown) {
                if (getsRows && error == null) {
                  const rows = rowsOf(method, result);
                  if (rows !== undefined && rows.length > 0) remember(rows);
                }
                // biome-ignore lint/complexity/noArguments: the driver's callbacks take varying arguments.
                return callback.apply(this, arguments as unknown as unknown[]);
              });
            });
            return original.apply(this, wrapped);
          },
      ),
    );
  }
  restores.push(
    wrap(
      databases,
      'exec',
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          announceSqliteFile(this as object, (this as { filename?: unknown }).filename);
          try {
            checker.check('sqlite', String(args[0]), { positional: [] });
          } catch (error) {
            const callback = args.find((arg) => typeof arg === 'function') as
              | AnyFunction
              | undefined;
            process.nextTick(() => {
              if (callback !== undefined) callback.call(this, error);
              else (this as Statement).emit('error', error);
            });
            return this;
          }
          const at = args.findIndex((arg) => typeof arg === 'function');
          if (at !== -1) args[at] = AsyncResource.bind(args[at] as AnyFunction);
          return original.apply(this, args);
        },
    ),
  );
  return () => {
    for (const restore of restores.splice(0).reverse()) restore();
  };
}

export function sqlite3Instrumentation(checker: SqlChecker): Instrumentation {
  return defineInstrumentation({
    package: 'sqlite3',
    purpose: 'SQL statements of `Database#exec` and statements (`run`, `get`, `all`, `each`)',
    consequence: 'its statements would not be checked',
    failClosed: true,
    files: [
      {
        // The native binding, which lib/sqlite3.js (the main file) requires: a service importing
        // sqlite3 from ESM never calls require('sqlite3'), but this require is seen. Its
        // Statement and Database are the classes lib/sqlite3.js adds its helpers to.
        file: 'lib/sqlite3-binding.js',
        versions: '>=5.0.0 <6',
        patch: (exports) => patchModule(exports, checker),
      },
    ],
  });
}
