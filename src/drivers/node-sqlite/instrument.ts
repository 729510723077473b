/**
 * @module
 * `node:sqlite` (DatabaseSync): every statement is checked when it runs, before SQLite sees it —
 * `exec(sql)` and a prepared statement's `run`/`get`/`all`/`iterate` — and the rows `get`/`all`
 * return are remembered for `=result` constraints. A builtin, so it is patched from the preload
 * before the service can import it.
 */
import sqlite from 'node:sqlite';
import type { SqlChecker, StatementParams } from '../../modules/sql/check.ts';
import { isValidatorConnection } from '../../modules/sql/template.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** node:sqlite takes named parameters as a leading plain object, then anonymous ones. */
export function sqliteParams(args: readonly unknown[]): StatementParams {
  const first = args[0];
  if (
    typeof first === 'object' &&
    first !== null &&
    !ArrayBuffer.isView(first) &&
    !Array.isArray(first)
  ) {
    return { named: first as Record<string, unknown>, positional: args.slice(1) };
  }
  return { positional: args };
}

export function instrumentNodeSqlite(checker: SqlChecker): () => void {
  const database = sqlite.DatabaseSync.prototype as unknown as Record<string, AnyFunction>;
  const statement = sqlite.StatementSync.prototype as unknown as Record<string, AnyFunction>;
  const originals = {
    exec: database.exec!,
    run: statement.run!,
    get: statement.get!,
    all: statement.all!,
    iterate: statement.iterate!,
  };
  database.exec = function (this: unknown, ...args: unknown[]) {
    // leash's own SQLite parser compiles statements on private connections: not the service's.
    if (!isValidatorConnection(this as object))
      checker.check('sqlite', String(args[0]), { positional: [] });
    return originals.exec.apply(this, args);
  };
  // `sourceSQL` is a native getter that makes a new string on every read, which the statement
  // cache would hash again on every execution: read once per statement.
  const texts = new WeakMap<object, string>();
  const textOf = (statement: { sourceSQL: string }): string => {
    let text = texts.get(statement);
    if (text === undefined) {
      text = statement.sourceSQL;
      texts.set(statement, text);
    }
    return text;
  };
  for (const name of ['run', 'get', 'all', 'iterate'] as const) {
    const original = originals[name];
    statement[name] = function (this: { sourceSQL: string }, ...args: unknown[]) {
      const remember = checker.check('sqlite', textOf(this), sqliteParams(args));
      const result = original.apply(this, args);
      if (name === 'get' && result !== undefined) remember([result]);
      else if (name === 'all') remember(result as unknown[]);
      return result;
    } as AnyFunction;
  }
  return () => {
    database.exec = originals.exec;
    for (const name of ['run', 'get', 'all', 'iterate'] as const) statement[name] = originals[name];
  };
}
