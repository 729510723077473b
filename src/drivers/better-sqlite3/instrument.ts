/**
 * @module
 * better-sqlite3 (12.8 to 13): `Database.prototype.exec` and the prepared statements' `run`, `get`,
 * `all` and `iterate` are checked before SQLite runs them; returned rows are remembered for
 * `=result` constraints. Statements are native objects, so their prototype is patched the first
 * time a statement is prepared. Hooked at lib/database.js, which the package's index requires, so
 * a service importing it from ESM is covered too.
 *
 * Up to 12, lib/database.js exports the Database class. In 13 it exports a factory,
 * `createDatabase(getAddon, allowNativeBinding)`, that the package's entry and each platform entry
 * (`better-sqlite3/linux-x64`) call to make a class of their own, so the factory is wrapped and
 * every class it makes is patched (patching the factory's own prototype, as for 12, would throw
 * on the missing `prepare`).
 */
import major from 'semver/functions/major.js';
import { defineInstrumentation, type Instrumentation } from '../../instrument/instrumentation.ts';
import { isWrapped, wrap, wrapExport } from '../../instrument/shimmer.ts';
import type { SqlChecker, StatementParams } from '../../modules/sql/check.ts';
import { announceSqliteFile } from '../sqlite-files.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;
const METHODS = ['run', 'get', 'all', 'iterate'] as const;

/** better-sqlite3 binds a leading plain object as named parameters, the rest by position. */
function params(args: readonly unknown[]): StatementParams {
  const positional: unknown[] = [];
  let named: Record<string, unknown> | undefined;
  for (const arg of args) {
    if (Array.isArray(arg)) positional.push(...arg);
    else if (
      typeof arg === 'object' &&
      arg !== null &&
      !ArrayBuffer.isView(arg) &&
      named === undefined
    ) {
      named = arg as Record<string, unknown>;
    } else positional.push(arg);
  }
  return named === undefined ? { positional } : { positional, named };
}

function patchDatabase(exports: unknown, checker: SqlChecker): () => void {
  const restores: Array<() => void> = [];
  const patchStatement = (proto: Record<string, AnyFunction>): void => {
    for (const name of METHODS) {
      restores.push(
        wrap(
          proto,
          name,
          (original) =>
            function (this: unknown, ...args: unknown[]) {
              const remember = checker.check(
                'sqlite',
                (this as { source: string }).source,
                params(args),
              );
              const result = original.apply(this, args);
              if (name === 'get' && result !== undefined) remember([result]);
              else if (name === 'all') remember(result as unknown[]);
              return result;
            },
        ),
      );
    }
  };
  const proto = (exports as { prototype: Record<string, AnyFunction> }).prototype;
  restores.push(
    wrap(
      proto,
      'prepare',
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          announceSqliteFile(this as object, (this as { name?: unknown }).name);
          const statement = original.apply(this, args);
          // Statements are native objects: their prototype is patched when the first is made.
          const statementProto = Object.getPrototypeOf(statement) as Record<string, AnyFunction>;
          if (!isWrapped(statementProto.run)) patchStatement(statementProto);
          return statement;
        },
    ),
    wrap(
      proto,
      'exec',
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          announceSqliteFile(this as object, (this as { name?: unknown }).name);
          checker.check('sqlite', String(args[0]), { positional: [] });
          return original.apply(this, args);
        },
    ),
  );
  return () => {
    for (const restore of restores.splice(0).reverse()) restore();
  };
}

/** better-sqlite3 13: every Database class the factory makes is patched as it is made. */
function patchFactory(
  exports: unknown,
  checker: SqlChecker,
): { exports: unknown; restore: () => void } {
  const restores: Array<() => void> = [];
  const factory = wrapExport(
    exports as AnyFunction,
    (createDatabase) =>
      function (this: unknown, ...args: unknown[]) {
        const Database = createDatabase.apply(this, args);
        restores.push(patchDatabase(Database, checker));
        return Database;
      },
  );
  return {
    exports: factory.exports,
    restore: () => {
      factory.restore();
      for (const restore of restores.splice(0).reverse()) restore();
    },
  };
}

export function betterSqlite3Instrumentation(checker: SqlChecker): Instrumentation {
  return defineInstrumentation({
    package: 'better-sqlite3',
    purpose: 'SQL statements of `Database#exec` and prepared statements',
    consequence: 'its statements would not be checked',
    failClosed: true,
    files: [
      {
        file: 'lib/database.js',
        // Before 12.8 better-sqlite3 does not compile against Node 26's V8 (it calls
        // `Object::GetPrototype`, `Context::GetIsolate` and `PropertyCallbackInfo::This`, which
        // V8 removed), and no prebuilt binary of it loads there: no version below is claimed.
        versions: '>=12.8.0 <14',
        patch: (exports, version) =>
          major(version) >= 13 ? patchFactory(exports, checker) : patchDatabase(exports, checker),
      },
    ],
  });
}
