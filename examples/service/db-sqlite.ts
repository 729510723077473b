/**
 * @module
 * The embedded store: one SQLite file through node:sqlite (synchronous underneath).
 */
import { DatabaseSync } from 'node:sqlite';
import { containsPattern, type Note, type Row, type Store, seedRows, toNote } from './db.ts';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    legacy_hash TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL REFERENCES users(name),
    title TEXT NOT NULL,
    body TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS shares (
    note_id INTEGER NOT NULL REFERENCES notes(id),
    shared_with TEXT NOT NULL REFERENCES users(name),
    PRIMARY KEY (note_id, shared_with)
  )`,
];

const NOTE_COLUMNS = 'id, owner, title, body';

/** Opens (creating and seeding on first use) the database file. */
export function openSqlite(file: string): Store {
  // Tests read the same file from another process: wait for a lock rather than fail.
  const db = new DatabaseSync(file, { timeout: 5000 });
  for (const statement of SCHEMA) db.exec(statement);
  const row = db.prepare('SELECT COUNT(*) AS n FROM users').get();
  if (Number(row?.n ?? 0) === 0) seed(db);

  const all = (sql: string, ...params: (string | number)[]): Row[] =>
    db.prepare(sql).all(...params);
  const one = (sql: string, ...params: (string | number)[]): Row | undefined =>
    db.prepare(sql).get(...params);
  const notes = (sql: string, ...params: (string | number)[]): Note[] =>
    all(sql, ...params).map(toNote);
  const note = (sql: string, ...params: (string | number)[]): Note | undefined => {
    const found = one(sql, ...params);
    return found ? toNote(found) : undefined;
  };
  const changes = (sql: string, ...params: (string | number)[]): number =>
    Number(db.prepare(sql).run(...params).changes);

  return {
    kind: 'sqlite',
    async findPasswordHash(name) {
      const found = one('SELECT password_hash FROM users WHERE name = ?', name);
      return typeof found?.password_hash === 'string' ? found.password_hash : undefined;
    },
    async userExists(name) {
      return one('SELECT name FROM users WHERE name = ?', name) !== undefined;
    },
    async listNotes(owner) {
      return notes(`SELECT ${NOTE_COLUMNS} FROM notes WHERE owner = ? ORDER BY id`, owner);
    },
    async countNotes(owner) {
      return Number(one('SELECT COUNT(*) AS n FROM notes WHERE owner = ?', owner)?.n ?? 0);
    },
    async getNote(id, owner) {
      return note(`SELECT ${NOTE_COLUMNS} FROM notes WHERE id = ? AND owner = ?`, id, owner);
    },
    async getReadableNote(id, user) {
      return note(
        `SELECT ${NOTE_COLUMNS} FROM notes WHERE id = ? AND (owner = ? OR id IN ` +
          '(SELECT note_id FROM shares WHERE shared_with = ?))',
        id,
        user,
        user,
      );
    },
    async createNote(owner, title, body) {
      const result = db
        .prepare('INSERT INTO notes (owner, title, body) VALUES (?, ?, ?)')
        .run(owner, title, body);
      return { id: Number(result.lastInsertRowid), owner, title, body };
    },
    async updateNote(id, owner, title, body) {
      const sql = 'UPDATE notes SET title = ?, body = ? WHERE id = ? AND owner = ?';
      return changes(sql, title, body, id, owner) > 0;
    },
    async shareNote(id, withUser) {
      changes(
        'INSERT INTO shares (note_id, shared_with) VALUES (?, ?) ON CONFLICT DO NOTHING',
        id,
        withUser,
      );
    },
    async listShared(user) {
      return notes(
        'SELECT n.id, n.owner, n.title, n.body FROM notes n JOIN shares s ON s.note_id = n.id ' +
          'WHERE s.shared_with = ? ORDER BY n.id',
        user,
      );
    },
    async searchNotes(owner, text) {
      return notes(
        `SELECT ${NOTE_COLUMNS} FROM notes WHERE owner = ? AND lower(title) LIKE ? ESCAPE '\\' ` +
          'ORDER BY id',
        owner,
        containsPattern(text),
      );
    },

    // DELIBERATELY UNSAFE (routes/sql-legacy.ts): whatever SQL text the caller built runs as is.
    async unsafeQuery(sql) {
      return db.prepare(sql).all();
    },
    async unsafeExec(sql) {
      db.exec(sql);
    },
    // DELIBERATELY UNSAFE (IDOR): no owner condition.
    async getNoteById(id) {
      return note(`SELECT ${NOTE_COLUMNS} FROM notes WHERE id = ?`, id);
    },
    async setNoteBody(id, body) {
      return changes('UPDATE notes SET body = ? WHERE id = ?', body, id) > 0;
    },

    async close() {
      if (db.isOpen) db.close();
    },
  };
}

function seed(db: DatabaseSync): void {
  const { users, notes } = seedRows();
  const addUser = db.prepare(
    'INSERT INTO users (name, password_hash, legacy_hash) VALUES (?, ?, ?)',
  );
  const addNote = db.prepare('INSERT INTO notes (owner, title, body) VALUES (?, ?, ?)');
  db.exec('BEGIN');
  try {
    for (const user of users) addUser.run(user.name, user.passwordHash, user.legacyHash);
    for (const note of notes) addNote.run(note.owner, note.title, note.body);
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
