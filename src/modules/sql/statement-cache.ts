/**
 * @module
 * The fast path: a statement text seen before is not parsed again.
 *
 * A bounded LRU keyed by (statement text, dialect). A hit is a `Map` lookup and a move to the
 * back of the map's order; it returns the very same frozen `Template` object. A statement that did
 * not parse is remembered too (the same error is thrown again without parsing), except when the
 * parser was only not loaded yet. Texts longer than `maxLength` are parsed every time and never
 * kept, so a few huge generated statements cannot pin memory.
 */
import {
  isSqlUnparsable,
  type SqlDialect,
  type SqlUnparsableError,
  type Template,
  templateOf,
} from './template.ts';

export interface StatementCacheOptions {
  /** The most statement texts kept (default 1000). */
  readonly max?: number;
  /** Longer texts are not kept (default 65536 characters). */
  readonly maxLength?: number;
}

export interface StatementCache {
  /** The template of `sql`; throws `ERR_LEASH_SQL_UNPARSABLE` like `templateOf`. */
  get(sql: string, dialect: SqlDialect): Template;
  /** How many statement texts are kept. */
  readonly size: number;
  clear(): void;
}

type Result = Template | SqlUnparsableError;

/** One text's results: a text is one entry whichever dialects it was parsed in. */
interface Entry {
  postgres?: Result;
  sqlite?: Result;
  mysql?: Result;
  'mysql-nbe'?: Result;
}

export function createStatementCache(options: StatementCacheOptions = {}): StatementCache {
  const max = options.max ?? 1000;
  const maxLength = options.maxLength ?? 65_536;
  if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer');
  // Keyed by the text itself (not text + dialect): V8 keeps a string's hash, so a driver passing
  // the same string object again is not even re-hashed.
  const entries = new Map<string, Entry>();

  const unwrap = (result: Result): Template => {
    if (result instanceof Error) throw result;
    return result;
  };

  return {
    get(sql, dialect) {
      const entry = entries.get(sql);
      const cached = entry?.[dialect];
      if (cached !== undefined) {
        // Most recently used goes to the back; eviction takes from the front. Under half full no
        // eviction is near, and a hot statement moves back on its next hit once it is: a hit
        // then costs one lookup.
        if (entries.size * 2 > max) {
          entries.delete(sql);
          entries.set(sql, entry!);
        }
        return unwrap(cached);
      }
      let result: Result;
      try {
        result = templateOf(sql, dialect);
      } catch (error) {
        if (!isSqlUnparsable(error) || error.notReady) throw error;
        result = error;
      }
      if (typeof sql === 'string' && sql.length <= maxLength) {
        if (entry === undefined) {
          entries.set(sql, { [dialect]: result });
          if (entries.size > max) entries.delete(entries.keys().next().value!);
        } else {
          entry[dialect] = result;
          entries.delete(sql);
          entries.set(sql, entry);
        }
      }
      return unwrap(result);
    },
    get size() {
      return entries.size;
    },
    clear() {
      entries.clear();
    },
  };
}
