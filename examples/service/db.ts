/**
 * @module
 * Storage: one interface, two databases. The default is an embedded SQLite file (node:sqlite, in
 * DATA_DIR); with `DATABASE_URL=postgres://…` it is PostgreSQL through `pg`. Both create their
 * schema at start and seed the same users and notes. The interface is asynchronous because `pg` is
 * (node:sqlite is not, and simply resolves at once).
 *
 * Every legitimate query is parameterised and every note query is scoped to its owner (or, for
 * reading, to the users it is shared with), so the SQL a route issues has a fixed template whose
 * slots come from the logged-in user or from request inputs. The methods under "deliberately
 * unsafe" exist only for routes/sql-legacy.ts.
 */
import { join } from 'node:path';
import type { Config } from './config.ts';
import { hashPassword, legacyHash, SEED_USERS } from './users.ts';

export interface Note {
  id: number;
  owner: string;
  title: string;
  body: string;
}

export type Row = Record<string, unknown>;

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  findPasswordHash(name: string): Promise<string | undefined>;
  userExists(name: string): Promise<boolean>;
  listNotes(owner: string): Promise<Note[]>;
  countNotes(owner: string): Promise<number>;
  /** The owner's note, or undefined (also when it exists but belongs to someone else). */
  getNote(id: number, owner: string): Promise<Note | undefined>;
  /** A note the user owns or that is shared with them. */
  getReadableNote(id: number, user: string): Promise<Note | undefined>;
  createNote(owner: string, title: string, body: string): Promise<Note>;
  /** Returns whether a note of that owner existed (and so was updated). */
  updateNote(id: number, owner: string, title: string, body: string): Promise<boolean>;
  /** Shares a note (the caller has checked that it owns it); sharing twice is a no-op. */
  shareNote(id: number, withUser: string): Promise<void>;
  /** Notes shared with the user, by their owners. */
  listShared(user: string): Promise<Note[]>;
  /** The owner's notes whose title contains `text` (case-insensitive; `%` and `_` are literal). */
  searchNotes(owner: string, text: string): Promise<Note[]>;

  // Deliberately unsafe: only routes/sql-legacy.ts uses these.
  /** Runs one statement given as finished SQL text (no parameters) and returns its rows. */
  unsafeQuery(sql: string): Promise<Row[]>;
  /** Runs SQL text that may hold several statements (SQLite `exec`, a PostgreSQL simple query). */
  unsafeExec(sql: string): Promise<void>;
  /** A note by id, whoever owns it (parameterised, but no owner condition). */
  getNoteById(id: number): Promise<Note | undefined>;
  /** Sets a note's body by id, whoever owns it; whether a row changed. */
  setNoteBody(id: number, body: string): Promise<boolean>;

  close(): Promise<void>;
}

/** The seeded users (scrypt hash for /login, legacy hash for /login-legacy) and one note each. */
export function seedRows(): {
  users: { name: string; passwordHash: string; legacyHash: string }[];
  notes: { owner: string; title: string; body: string }[];
} {
  return {
    users: SEED_USERS.map((user) => ({
      name: user.name,
      passwordHash: hashPassword(user.password),
      legacyHash: legacyHash(user.password),
    })),
    notes: SEED_USERS.map((user) => ({
      owner: user.name,
      title: `Welcome, ${user.name}`,
      body: 'This is your first note.',
    })),
  };
}

/** Escapes `\`, `%` and `_` for `LIKE … ESCAPE '\'` and wraps the text in `%…%`. */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, '\\$&')}%`;
}

export function toNote(row: Row): Note {
  return {
    id: Number(row.id),
    owner: String(row.owner),
    title: String(row.title),
    body: String(row.body),
  };
}

/** PostgreSQL when `databaseUrl` is set, else SQLite in `<dataDir>/notes.db`. */
export async function openStore(config: Pick<Config, 'dataDir' | 'databaseUrl'>): Promise<Store> {
  if (config.databaseUrl !== undefined) {
    // Loaded only when used, so the SQLite service never loads `pg`.
    const { openPostgres } = await import('./db-postgres.ts');
    return openPostgres(config.databaseUrl);
  }
  const { openSqlite } = await import('./db-sqlite.ts');
  return openSqlite(join(config.dataDir, 'notes.db'));
}
