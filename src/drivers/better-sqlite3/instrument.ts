/**
 * @module
 * better-sqlite3 (12.x): `Database.prototype.exec` and the prepared statements' `run`, `get`,
 * `all` and `iterate` are checked before SQLite runs them; returned rows are remembered for
 * `=result` constraints. Statements are native objects, so their prototype is patched the first
 * time a statement is prepared. Hooked at lib/database.js, which the package's index requires, so
 * a service importing it from ESM is covered too.
 */
import { Hook } from 'require-in-the-middle';
import { LeashError } from '../../errors.ts';
import { unsupportedVersion } from '../../instrument/package-version.ts';
import type { SqlChecker, StatementParams } from '../../modules/sql/check.ts';

const SUPPORTED_MAJOR = 12;
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

export function instrumentBetterSqlite3(
  checker: SqlChecker,
  warn: (message: string) => void,
  failClosed: boolean,
): () => void {
  const restores: Array<() => void> = [];
  const patchStatement = (proto: Record<string, AnyFunction>): void => {
    if (Object.hasOwn(proto, 'leashPatched')) return;
    Object.defineProperty(proto, 'leashPatched', { value: true, configurable: true });
    for (const name of METHODS) {
      const original = proto[name]!;
      proto[name] = function (this: { source: string }, ...args: unknown[]) {
        const remember = checker.check('sqlite', this.source, params(args));
        const result = original.apply(this, args);
        if (name === 'get' && result !== undefined) remember([result]);
        else if (name === 'all') remember(result as unknown[]);
        return result;
      } as AnyFunction;
      restores.push(() => {
        proto[name] = original;
      });
    }
    restores.push(() => {
      delete (proto as { leashPatched?: unknown }).leashPatched;
    });
  };
  const hook = new Hook(['better-sqlite3'], { internals: true }, (exports, name, basedir) => {
    if (name !== 'better-sqlite3/lib/database.js') return exports;
    const unsupported = unsupportedVersion(
      basedir,
      'better-sqlite3',
      SUPPORTED_MAJOR,
      'its statements would not be checked',
    );
    if (unsupported !== undefined) {
      if (failClosed) throw new LeashError('ERR_LEASH_UNPATCHED', unsupported);
      warn(unsupported);
      return exports;
    }
    const proto = (exports as { prototype: Record<string, AnyFunction> }).prototype;
    const originalPrepare = proto.prepare!;
    const originalExec = proto.exec!;
    proto.prepare = function (this: unknown, ...args: unknown[]) {
      const statement = originalPrepare.apply(this, args);
      patchStatement(Object.getPrototypeOf(statement) as Record<string, AnyFunction>);
      return statement;
    };
    proto.exec = function (this: unknown, ...args: unknown[]) {
      checker.check('sqlite', String(args[0]), { positional: [] });
      return originalExec.apply(this, args);
    };
    restores.push(() => {
      proto.prepare = originalPrepare;
      proto.exec = originalExec;
    });
    return exports;
  });
  return () => {
    hook.unhook();
    for (const restore of restores.reverse()) restore();
  };
}
