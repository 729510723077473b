/**
 * @module
 * Types and helpers shared by the dialects' template builders; `template.ts` re-exports them.
 */
import { LeashError } from '../../errors.ts';

/** `mysql-nbe`: MySQL or MariaDB on a connection in `NO_BACKSLASH_ESCAPES` mode. */
export type SqlDialect = 'postgres' | 'sqlite' | 'mysql' | 'mysql-nbe';

export const SQL_DIALECTS: readonly SqlDialect[] = ['postgres', 'sqlite', 'mysql', 'mysql-nbe'];

/** One value: a bound parameter or a literal lifted out of the statement text. */
export type ValueSource =
  | {
      readonly kind: 'param';
      /**
       * 0-based position in the statement's parameter vector: `$3` → 2 (PostgreSQL); SQLite's
       * parameter index − 1 (`?` counts on from the largest index so far, `?NNN` is NNN, a name
       * gets the next index the first time it appears and keeps it).
       */
      readonly index: number;
      /** SQLite named parameters: the name as written, with its prefix (`:id`, `@id`, `$id`). */
      readonly name?: string;
    }
  | {
      readonly kind: 'literal';
      /** The literal's value: a string's content, a number as written, `true`/`false`, `X'01'`. */
      readonly value: string;
    };

/** Where a slot's value comes from; an `IN (…)` list slot has one source per list item. */
export type SlotSource =
  | ValueSource
  | { readonly kind: 'list'; readonly items: readonly ValueSource[] };

export interface SlotInfo {
  /** `$1`, `$2`, … as in the template text. */
  readonly slot: string;
  readonly source: SlotSource;
  /** Set for an `IN (…)` list of values (then `source.kind` is `'list'`). */
  readonly list?: true;
  /**
   * The column the value is compared with or written to, where obvious (`col = $n`, `col IN
   * ($n)`, INSERT column lists, `UPDATE … SET col = $n`): the bare column name. Best effort.
   */
  readonly column?: string;
}

export interface Template {
  /** The normalised statement; stacked statements are joined with `; `. */
  readonly text: string;
  /** One per slot, in slot order (`slots[0].slot === '$1'`). */
  readonly slots: readonly SlotInfo[];
}

/** An `ERR_LEASH_SQL_UNPARSABLE` error, with the dialect and the parser's reason. */
export interface SqlUnparsableError extends LeashError {
  readonly code: 'ERR_LEASH_SQL_UNPARSABLE';
  readonly dialect: SqlDialect;
  readonly reason: string;
  /** True when the parser was not loaded yet (`prepareSqlParsers()` not awaited). */
  readonly notReady: boolean;
}

const DIALECT_NAME: Record<SqlDialect, string> = {
  postgres: 'PostgreSQL',
  sqlite: 'SQLite',
  mysql: 'MySQL',
  'mysql-nbe': 'MySQL (NO_BACKSLASH_ESCAPES)',
};

export function unparsable(
  dialect: SqlDialect,
  reason: string,
  options?: { readonly notReady?: boolean; readonly cause?: unknown },
): SqlUnparsableError {
  const error = new LeashError(
    'ERR_LEASH_SQL_UNPARSABLE',
    `${DIALECT_NAME[dialect]} statement does not parse: ${reason}`,
    { module: 'sql' },
    options?.cause === undefined ? undefined : { cause: options.cause },
  );
  return Object.assign(error, {
    code: 'ERR_LEASH_SQL_UNPARSABLE' as const,
    dialect,
    reason,
    notReady: options?.notReady === true,
  });
}

export function isSqlUnparsable(error: unknown): error is SqlUnparsableError {
  return (
    error instanceof LeashError &&
    error.code === 'ERR_LEASH_SQL_UNPARSABLE' &&
    'dialect' in error &&
    'reason' in error
  );
}

/** Freezes a template built by a dialect's module (and its slots and sources). */
export function freezeTemplate(text: string, slots: SlotInfo[]): Template {
  for (const slot of slots) {
    if (slot.source.kind === 'list') {
      for (const item of slot.source.items) Object.freeze(item);
      Object.freeze(slot.source.items);
    }
    Object.freeze(slot.source);
    Object.freeze(slot);
  }
  return Object.freeze({ text, slots: Object.freeze(slots) });
}
