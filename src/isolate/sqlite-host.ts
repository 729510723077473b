/**
 * @module
 * The supervisor's half of `node:sqlite` for an isolated worker: the worker may not open the
 * database file, so it sends each call here (src/isolate/sqlite-remote.ts), and this host, one
 * per worker, holds the worker's real connections and prepared statements and asks the gate
 * before it runs any statement. Each worker connection is one real connection, so a worker's
 * transaction is a real transaction and nothing of it is seen by other workers until it commits.
 *
 * Everything in a message is the worker's word and is checked as such: the text the gate sees is
 * the text the host prepared (never one the worker restates), ids are the host's own, and the file
 * is the one `mayOpen` approved.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import sqlite, { type DatabaseSync, type StatementSync } from 'node:sqlite';
import { sqliteParams } from '../drivers/node-sqlite/instrument.ts';
import { LeashError } from '../errors.ts';
import type { Gate } from './gate.ts';
import {
  OPEN_OPTIONS,
  type Outcome,
  type Release,
  SQLITE_KIND,
  type SqliteErrorShape,
  STATEMENT_FLAGS,
  type StatementFlag,
} from './sqlite-messages.ts';

/**
 * The real class, taken when the host is loaded: in a process where the remote one were also
 * installed (a test), the host must still open files, not forward to itself.
 */
const RealDatabaseSync = sqlite.DatabaseSync;

export interface SqliteHostOptions {
  /** Whether the worker may open this database file (an absolute path, symlinks resolved). */
  mayOpen(path: string): boolean;
  gate: Gate;
}

export interface SqliteHost {
  /** Answers one `'sqlite'` message; a refusal is thrown as a LeashError for the channel. */
  handle(message: { readonly kind: string } & Record<string, unknown>): unknown;
  /** Closes every connection the worker opened, so a worker that is gone holds no lock. */
  close(): void;
  /** How many real connections and statements the worker holds here. */
  counts(): { readonly connections: number; readonly statements: number };
}

/**
 * A worker holds at most this many connections and prepared statements at once. Its statement
 * objects are released when its garbage collector drops them; the caps bound what a worker that
 * never lets go (or means harm) can pin in the supervisor's memory.
 */
export const MAX_CONNECTIONS = 64;
export const MAX_STATEMENTS = 10_000;

const SETTERS = {
  readBigInts: 'setReadBigInts',
  returnArrays: 'setReturnArrays',
  allowBareNamedParameters: 'setAllowBareNamedParameters',
  allowUnknownNamedParameters: 'setAllowUnknownNamedParameters',
} as const satisfies Record<StatementFlag, keyof StatementSync>;

interface HeldStatement {
  readonly statement: StatementSync;
  readonly connection: number;
}

function denied(message: string): LeashError {
  return new LeashError('ERR_LEASH_DENIED', message);
}

function malformed(what: string): LeashError {
  return denied(`isolation channel: a malformed sqlite message (${what})`);
}

function idField(message: Record<string, unknown>, name: 'db' | 'statement'): number {
  const id = message[name];
  if (!Number.isSafeInteger(id)) throw malformed(`${name} is not an id`);
  return id as number;
}

function stringField(message: Record<string, unknown>, name: string): string {
  const value = message[name];
  if (typeof value !== 'string') throw malformed(`${name} is not a string`);
  return value;
}

function recordField(message: Record<string, unknown>, name: string): Record<string, unknown> {
  const value = message[name];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw malformed(`${name} is not an object`);
  return value as Record<string, unknown>;
}

function tokenField(message: Record<string, unknown>): string | undefined {
  const token = message.token;
  if (token !== undefined && typeof token !== 'string') throw malformed('token is not a string');
  return token;
}

/** Only the options node:sqlite knows are passed on, so a new option is a decision, not a leak. */
function pick(options: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of names) if (options[name] !== undefined) picked[name] = options[name];
  return picked;
}

/** The file SQLite would open: symlinks resolved, so `mayOpen` judges the file, not a name. */
function realFile(path: string): string {
  if (existsSync(path)) return realpathSync(path);
  const parent = dirname(path);
  return existsSync(parent) ? join(realpathSync(parent), basename(path)) : path;
}

/** Runs a real node:sqlite call; what it throws goes back as SQLite's error, not a refusal. */
function attempt(call: () => unknown): Outcome {
  try {
    return { value: call() };
  } catch (thrown) {
    const error = thrown as Partial<SqliteErrorShape> & Error;
    const shape: { -readonly [K in keyof SqliteErrorShape]: SqliteErrorShape[K] } = {
      name: error.name,
      message: error.message,
    };
    if (typeof error.code === 'string') shape.code = error.code;
    if (typeof error.errcode === 'number') shape.errcode = error.errcode;
    if (typeof error.errstr === 'string') shape.errstr = error.errstr;
    return { error: shape };
  }
}

/** Frees a statement now rather than at the supervisor's next garbage collection. */
function finalize(statement: StatementSync): void {
  (statement as { close?(): void }).close?.();
}

/** What `remember` wants: rows by column name, also when the statement returns arrays. */
function asRecords(statement: StatementSync, rows: readonly unknown[]): Record<string, unknown>[] {
  if (!rows.some(Array.isArray)) return rows as Record<string, unknown>[];
  const names = statement.columns().map((column) => column.name);
  return rows.map((row) =>
    Array.isArray(row)
      ? Object.fromEntries(names.map((name, i) => [name, row[i]]))
      : (row as Record<string, unknown>),
  );
}

export function createSqliteHost(options: SqliteHostOptions): SqliteHost {
  const connections = new Map<number, DatabaseSync>();
  const statements = new Map<number, HeldStatement>();
  let nextId = 1;
  let closed = false;

  const connectionOf = (message: Record<string, unknown>): [number, DatabaseSync] => {
    const id = idField(message, 'db');
    const connection = connections.get(id);
    if (connection === undefined) throw denied(`isolation channel: no sqlite connection ${id}`);
    return [id, connection];
  };
  const statementOf = (message: Record<string, unknown>): StatementSync => {
    const id = idField(message, 'statement');
    const held = statements.get(id);
    if (held === undefined) throw denied(`isolation channel: no sqlite statement ${id}`);
    return held.statement;
  };

  const closeConnection = (id: number): Outcome => {
    const connection = connections.get(id);
    connections.delete(id);
    // node:sqlite finalizes a connection's statements when it closes.
    for (const [statementId, held] of statements)
      if (held.connection === id) statements.delete(statementId);
    return connection === undefined ? { value: undefined } : attempt(() => connection.close());
  };

  const release = (released: unknown): void => {
    if (released === undefined) return;
    if (!Array.isArray(released)) throw malformed('release is not a list');
    for (const item of released as Release[]) {
      if (typeof item !== 'object' || item === null) throw malformed('release item');
      if ('db' in item) {
        if (connections.has(item.db)) closeConnection(item.db);
      } else if ('statement' in item) {
        const held = statements.get(item.statement);
        statements.delete(item.statement);
        if (held !== undefined) finalize(held.statement);
      }
    }
  };

  const open = (message: Record<string, unknown>): Outcome => {
    const path = stringField(message, 'path');
    const cwd = stringField(message, 'cwd');
    if (!isAbsolute(cwd)) throw malformed('cwd is not absolute');
    if (path.includes('\0') || cwd.includes('\0')) throw malformed('a path with a NUL byte');
    // SQLite reads a name that starts with `file:` as a URI whose parameters can name another
    // file or mode than the one mayOpen would be asked about.
    if (/^file:/i.test(path))
      throw denied(`an isolated worker may not open the SQLite URI ${path}: give a file path`);
    const file = realFile(resolve(cwd, path));
    if (!options.mayOpen(file))
      throw denied(`an isolated worker may not open the SQLite database ${file}`);
    const requested = recordField(message, 'options');
    if (requested.allowExtension === true)
      throw denied(`an isolated worker may not load SQLite extensions (opening ${file})`);
    if (connections.size >= MAX_CONNECTIONS)
      throw denied(`an isolated worker may hold at most ${MAX_CONNECTIONS} SQLite connections`);
    const given = pick(requested, OPEN_OPTIONS);
    // ATTACH would reach a file mayOpen never saw.
    const limits = { ...(typeof given.limits === 'object' ? given.limits : {}), attach: 0 };
    const outcome = attempt(
      () => new RealDatabaseSync(file, { ...given, limits, allowExtension: false }),
    );
    if ('error' in outcome) return outcome;
    const id = nextId++;
    connections.set(id, outcome.value as DatabaseSync);
    return { value: id };
  };

  const prepare = (message: Record<string, unknown>): Outcome => {
    const [connectionId, connection] = connectionOf(message);
    const sql = stringField(message, 'sql');
    const prepareOptions = pick(recordField(message, 'options'), STATEMENT_FLAGS);
    if (statements.size >= MAX_STATEMENTS)
      throw denied(`an isolated worker may hold at most ${MAX_STATEMENTS} prepared statements`);
    const outcome = attempt(() => connection.prepare(sql, prepareOptions));
    if ('error' in outcome) return outcome;
    const id = nextId++;
    statements.set(id, { statement: outcome.value as StatementSync, connection: connectionId });
    return { value: id };
  };

  const exec = (message: Record<string, unknown>): Outcome => {
    const [, connection] = connectionOf(message);
    const sql = stringField(message, 'sql');
    const decision = options.gate({
      dialect: 'sqlite',
      sql,
      params: { positional: [] },
      token: tokenField(message),
    });
    if (!decision.allowed) throw decision.error;
    return attempt(() => connection.exec(sql));
  };

  const runStatement = (message: Record<string, unknown>, op: string): Outcome => {
    const statement = statementOf(message);
    const args = message.args;
    if (!Array.isArray(args)) throw malformed('args is not a list');
    const decision = options.gate({
      dialect: 'sqlite',
      sql: statement.sourceSQL,
      params: sqliteParams(args),
      token: tokenField(message),
    });
    if (!decision.allowed) throw decision.error;
    // iterate is answered with every row at once: the worker iterates over them.
    const outcome = attempt(() =>
      op === 'run'
        ? statement.run(...args)
        : op === 'get'
          ? statement.get(...args)
          : statement.all(...args),
    );
    if (!('value' in outcome) || op === 'run') return outcome;
    if (op !== 'get') decision.remember(asRecords(statement, outcome.value as unknown[]));
    else if (outcome.value !== undefined) decision.remember(asRecords(statement, [outcome.value]));
    return outcome;
  };

  const setFlag = (message: Record<string, unknown>): Outcome => {
    const statement = statementOf(message);
    const flag = message.flag as StatementFlag;
    if (!STATEMENT_FLAGS.includes(flag)) throw malformed('flag');
    return attempt(() => statement[SETTERS[flag]](message.enabled as boolean));
  };

  const answer = (message: Record<string, unknown>): Outcome => {
    switch (message.op) {
      case 'open':
        return open(message);
      case 'close':
        return closeConnection(connectionOf(message)[0]);
      case 'isTransaction': {
        const [, connection] = connectionOf(message);
        return attempt(() => connection.isTransaction);
      }
      case 'exec':
        return exec(message);
      case 'prepare':
        return prepare(message);
      case 'run':
      case 'get':
      case 'all':
      case 'iterate':
        return runStatement(message, message.op);
      case 'columns': {
        const statement = statementOf(message);
        return attempt(() => statement.columns());
      }
      case 'expandedSQL': {
        const statement = statementOf(message);
        return attempt(() => statement.expandedSQL);
      }
      case 'set':
        return setFlag(message);
      case 'finalize': {
        const id = idField(message, 'statement');
        const held = statements.get(id);
        statements.delete(id);
        if (held !== undefined) finalize(held.statement);
        return { value: undefined };
      }
      default:
        throw malformed(`op ${String(message.op)}`);
    }
  };

  return {
    handle(message) {
      if (closed) throw denied('isolation channel: the worker’s SQLite host is closed');
      if (message.kind !== SQLITE_KIND) throw malformed(`kind ${message.kind}`);
      release(message.release);
      return answer(message);
    },
    close() {
      closed = true;
      for (const id of [...connections.keys()]) closeConnection(id);
    },
    counts() {
      return { connections: connections.size, statements: statements.size };
    },
  };
}
