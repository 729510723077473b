/**
 * @module
 * Storage: one embedded SQLite file (node:sqlite). Every query is parameterised and every note
 * query is scoped to its owner, so the SQL a route issues has a fixed template whose slots come
 * from the logged-in user or from request inputs.
 */
import { DatabaseSync, type SQLOutputValue } from 'node:sqlite';
import { hashPassword, SEED_USERS } from './users.ts';

export interface Note {
  id: number;
  owner: string;
  title: string;
  body: string;
}

type Row = Record<string, SQLOutputValue>;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL REFERENCES users(name),
    title TEXT NOT NULL,
    body TEXT NOT NULL
  );
`;

/** Opens (creating and seeding on first use) the database file. */
export function openDatabase(file: string): DatabaseSync {
  const db = new DatabaseSync(file);
  db.exec(SCHEMA);
  const row = db.prepare('SELECT COUNT(*) AS n FROM users').get();
  if (Number(row?.n ?? 0) === 0) seed(db);
  return db;
}

function seed(db: DatabaseSync): void {
  const addUser = db.prepare('INSERT INTO users (name, password_hash) VALUES (?, ?)');
  const addNote = db.prepare('INSERT INTO notes (owner, title, body) VALUES (?, ?, ?)');
  db.exec('BEGIN');
  try {
    for (const user of SEED_USERS) {
      addUser.run(user.name, hashPassword(user.password));
      addNote.run(user.name, `Welcome, ${user.name}`, 'This is your first note.');
    }
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}

export function findPasswordHash(db: DatabaseSync, name: string): string | undefined {
  const row = db.prepare('SELECT password_hash FROM users WHERE name = ?').get(name);
  return typeof row?.password_hash === 'string' ? row.password_hash : undefined;
}

export function listNotes(db: DatabaseSync, owner: string): Note[] {
  return db
    .prepare('SELECT id, owner, title, body FROM notes WHERE owner = ? ORDER BY id')
    .all(owner)
    .map(toNote);
}

export function countNotes(db: DatabaseSync, owner: string): number {
  const row = db.prepare('SELECT COUNT(*) AS n FROM notes WHERE owner = ?').get(owner);
  return Number(row?.n ?? 0);
}

export function getNote(db: DatabaseSync, id: number, owner: string): Note | undefined {
  const row = db
    .prepare('SELECT id, owner, title, body FROM notes WHERE id = ? AND owner = ?')
    .get(id, owner);
  return row ? toNote(row) : undefined;
}

export function createNote(db: DatabaseSync, owner: string, title: string, body: string): Note {
  const result = db
    .prepare('INSERT INTO notes (owner, title, body) VALUES (?, ?, ?)')
    .run(owner, title, body);
  return { id: Number(result.lastInsertRowid), owner, title, body };
}

/** Returns whether a note of that owner existed (and so was updated). */
export function updateNote(
  db: DatabaseSync,
  id: number,
  owner: string,
  title: string,
  body: string,
): boolean {
  const result = db
    .prepare('UPDATE notes SET title = ?, body = ? WHERE id = ? AND owner = ?')
    .run(title, body, id, owner);
  return Number(result.changes) > 0;
}

function toNote(row: Row): Note {
  return {
    id: Number(row.id),
    owner: String(row.owner),
    title: String(row.title),
    body: String(row.body),
  };
}
