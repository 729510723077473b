/**
 * @module
 * Statement → template: the identity of an SQL statement for the sql module.
 *
 * A template is the normalised statement with every literal and every bound parameter lifted into a
 * numbered slot (`SELECT * FROM notes WHERE id = $1 AND owner = $2`). Whitespace, comments, literal
 * values, identifier quoting, keyword case and the length of an `IN (…)` list of values do not
 * change it; any change of structure does (`OR 1=1`, `UNION SELECT`, a stacked statement, a `--`
 * that cuts the rest, an extra INSERT column, another table, column, `LIMIT`, `ORDER BY`, subquery).
 *
 * - PostgreSQL: libpg-query (the real PostgreSQL parser, WASM) → the AST with literals and
 *   parameters replaced by numbered parameters → pgsql-deparser. The deparsed text is parsed again
 *   and must give the same tree, so two different statements can never share a template through a
 *   deparser that drops or merges something; a statement the deparser cannot reproduce is
 *   unparsable.
 * - SQLite: SQLite's own parser (the `node:sqlite` build, on a private in-memory connection, prepare
 *   only, never run) decides whether a statement parses; the template is made of the statement's
 *   tokens as SQLite's tokenizer splits them (see `template-sqlite.ts`).
 * - MySQL and MariaDB: the statement's tokens as the server's lexer splits them, in the default SQL
 *   mode (`mysql`) or `NO_BACKSLASH_ESCAPES` (`mysql-nbe`), the server's parser being the grammar;
 *   what the lexer is unsure of (executable comments, nested comments, …) is unparsable (see
 *   `template-mysql.ts`).
 *
 * Slots are numbered in order of appearance in the template text. Each says where its value comes
 * from: a bound parameter (by 0-based position in the statement's parameter vector, and for SQLite
 * named parameters also the name as written, `:id`), a literal lifted out of the text (its value as
 * a string), or, for an `IN (…)` list, the list of those.
 *
 * Parsing is synchronous (node:sqlite and better-sqlite3 are synchronous drivers). libpg-query needs
 * its WASM module loaded once, which is asynchronous: it starts when PostgreSQL is first met (the
 * sql module starts it when the service loads a PostgreSQL driver; `sqlParserLoading`), or with
 * `await prepareSqlParsers()`. A PostgreSQL statement parsed before it is ready is refused as
 * unparsable, never allowed; the drivers whose API is asynchronous (pg, postgres.js) make their
 * statements wait for it instead (SqlChecker.defer).
 */

import { type SqlDialect, type Template, unparsable } from './template-common.ts';
import { mysqlTemplate } from './template-mysql.ts';
import { isPostgresReady, loadPostgres, postgresTemplate } from './template-postgres.ts';
import { sqliteTemplate } from './template-sqlite.ts';

export {
  createStatementCache,
  type StatementCache,
  type StatementCacheOptions,
} from './statement-cache.ts';
export {
  isSqlUnparsable,
  type SlotInfo,
  type SlotSource,
  SQL_DIALECTS,
  type SqlDialect,
  type SqlUnparsableError,
  type Template,
  type ValueSource,
} from './template-common.ts';
export { isValidatorConnection } from './template-sqlite.ts';

/**
 * Loads every parser that needs loading (libpg-query's WASM module, the deparser), for a process
 * that will parse PostgreSQL at once (the isolation proxy, tests, benchmarks). Later calls return
 * the same promise. SQLite and MySQL need nothing loaded.
 */
export function prepareSqlParsers(): Promise<void> {
  return loadPostgres();
}

/** Whether `templateOf` can parse statements of `dialect` now. */
export function isSqlParserReady(dialect: SqlDialect): boolean {
  return dialect !== 'postgres' || isPostgresReady();
}

/**
 * Starts loading the parser of `dialect` when it needs one that is not loaded yet; a promise that
 * settles once it is (rejected if it cannot be loaded), or undefined when `templateOf` can parse
 * `dialect` now.
 */
export function sqlParserLoading(dialect: SqlDialect): Promise<void> | undefined {
  return isSqlParserReady(dialect) ? undefined : loadPostgres();
}

/**
 * The template of `sql` in `dialect`. Throws an `ERR_LEASH_SQL_UNPARSABLE` `LeashError`
 * (`SqlUnparsableError`) when the statement does not parse, contains no statement, or the parser
 * is not loaded yet. The result is frozen.
 *
 * The template depends on the text only (so it can be cached by text): bind a slot's value with
 * `source.index` (positional parameters) or `source.name` (SQLite named parameters passed as an
 * object).
 */
export function templateOf(sql: string, dialect: SqlDialect): Template {
  if (typeof sql !== 'string') throw unparsable(dialect, 'the statement is not a string');
  // The servers read a statement up to the first NUL; whatever follows would not be seen by the
  // database but would be by us (or the reverse): never guess.
  if (sql.includes('\0')) throw unparsable(dialect, 'the statement contains a NUL character');
  switch (dialect) {
    case 'postgres':
      return postgresTemplate(sql);
    case 'sqlite':
      return sqliteTemplate(sql);
    case 'mysql':
      return mysqlTemplate(sql);
    case 'mysql-nbe':
      return mysqlTemplate(sql, 'mysql-nbe');
    default:
      throw new TypeError(`unknown SQL dialect: ${String(dialect)}`);
  }
}
