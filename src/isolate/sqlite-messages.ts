/**
 * @module
 * What an isolated worker's remote `node:sqlite` and the supervisor's SQLite host say to each
 * other over the isolation channel (kind `'sqlite'`): one message per `DatabaseSync` or
 * `StatementSync` call, naming the connection or statement by the id the host gave it.
 *
 * SQLite's own errors travel as an outcome, not as a channel error: the channel keeps only a
 * leash code and a message, and service code checks `code`, `errcode` and `errstr`.
 */

/** The message kind the channel routes to the SQLite host. */
export const SQLITE_KIND = 'sqlite';

/** The per-statement switches node:sqlite has, as prepare options and as `set…` methods. */
export const STATEMENT_FLAGS = [
  'readBigInts',
  'returnArrays',
  'allowBareNamedParameters',
  'allowUnknownNamedParameters',
] as const;
export type StatementFlag = (typeof STATEMENT_FLAGS)[number];

/** The constructor options the host passes on to the real `DatabaseSync` (`open` is the worker's). */
export const OPEN_OPTIONS = [
  'readOnly',
  'enableForeignKeyConstraints',
  'enableDoubleQuotedStringLiterals',
  'allowExtension',
  'timeout',
  'defensive',
  'limits',
  ...STATEMENT_FLAGS,
] as const;

export type RunMethod = 'run' | 'get' | 'all' | 'iterate';

/** Objects the worker's garbage collector let go of since its last message. */
export type Release = { readonly db: number } | { readonly statement: number };

export type SqliteMessage = { readonly release?: readonly Release[] } & (
  | {
      readonly op: 'open';
      /** As the service wrote it; the host resolves it against `cwd`. */
      readonly path: string;
      readonly cwd: string;
      readonly options: Readonly<Record<string, unknown>>;
    }
  | { readonly op: 'close' | 'isTransaction'; readonly db: number }
  | { readonly op: 'exec'; readonly db: number; readonly sql: string; readonly token?: string }
  | {
      readonly op: 'prepare';
      readonly db: number;
      readonly sql: string;
      readonly options: Readonly<Record<string, unknown>>;
    }
  | {
      readonly op: RunMethod;
      readonly statement: number;
      readonly args: readonly unknown[];
      readonly token?: string;
    }
  | { readonly op: 'columns' | 'expandedSQL' | 'finalize'; readonly statement: number }
  | {
      readonly op: 'set';
      readonly statement: number;
      readonly flag: StatementFlag;
      readonly enabled: unknown;
    }
);

/** An error the real node:sqlite threw, as much of it as service code looks at. */
export interface SqliteErrorShape {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly errcode?: number;
  readonly errstr?: string;
}

/** What the host answers a message it accepted: the call's value, or the error SQLite gave. */
export type Outcome = { readonly value: unknown } | { readonly error: SqliteErrorShape };
