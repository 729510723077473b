/**
 * @module
 * What the database proxies ask before they run a worker's statement: the supervisor's decision,
 * made against the route the statement's token names (never the route the worker claims), and how
 * to remember the rows it returns for that request's `=result` constraints.
 */
import type { LeashError } from '../errors.ts';
import type { StatementParams } from '../modules/sql/check.ts';

export interface GateStatement {
  readonly dialect: 'postgres' | 'sqlite';
  /** The statement as the worker sent it, with leash's token comment removed. */
  readonly sql: string;
  readonly params: StatementParams;
  /** The token the worker attached; undefined when it attached none. */
  readonly token: string | undefined;
}

export type GateDecision =
  | {
      readonly allowed: true;
      /** Call with the rows the statement returned (column name → value). */
      readonly remember: (rows: readonly Record<string, unknown>[]) => void;
    }
  | { readonly allowed: false; readonly error: LeashError };

/** One gate per worker: it knows the worker's group and whether it has finished starting. */
export type Gate = (statement: GateStatement) => GateDecision;

/** The header the dispatcher hands a worker its request's token in (lower case, as Node has it). */
export const TOKEN_HEADER = 'x-leash-token';

/** How a worker's driver marks a statement with its request's token: a leading SQL comment. */
export const TOKEN_COMMENT = /^\/\*leash-token:([A-Za-z0-9._-]+)\*\/ ?/;

/** Splits the token comment off a statement's text. */
export function splitToken(sql: string): {
  readonly sql: string;
  readonly token: string | undefined;
} {
  const match = TOKEN_COMMENT.exec(sql);
  return match === null
    ? { sql, token: undefined }
    : { sql: sql.slice(match[0].length), token: match[1] };
}

/** Prefixes a statement's text with its token. */
export function withToken(sql: string, token: string): string {
  return `/*leash-token:${token}*/ ${sql}`;
}
