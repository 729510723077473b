/**
 * @module
 * The PostgreSQL store, through a `pg` connection pool (`DATABASE_URL=postgres://…`). The schema is
 * created and seeded at start inside one transaction that holds an advisory lock, so several
 * servers starting on one database at once do not trip over each other. The pool opens all its
 * connections at start and keeps them (no idle timeout), so the service connects to the database
 * while starting, not in whichever request happens to need one more connection.
 */
import pg from 'pg';
import { containsPattern, type Note, type Row, type Store, seedRows, toNote } from './db.ts';

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    legacy_hash TEXT NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS notes (
    id SERIAL PRIMARY KEY,
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

/** Any constant; it only has to be the same in every server of this example. */
const SCHEMA_LOCK = 7_041_966;

const NOTE_COLUMNS = 'id, owner, title, body';

const POOL_SIZE = 5;

export async function openPostgres(url: string): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_SIZE,
    min: POOL_SIZE,
    idleTimeoutMillis: 0,
  });
  // An idle connection that breaks (the server restarts) must not crash the service.
  pool.on('error', (error) => console.error(`postgres: ${error.message}`));
  try {
    await prepare(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }

  const all = async (sql: string, ...params: (string | number)[]): Promise<Row[]> =>
    (await pool.query(sql, params)).rows;
  const one = async (sql: string, ...params: (string | number)[]): Promise<Row | undefined> =>
    (await all(sql, ...params))[0];
  const notes = async (sql: string, ...params: (string | number)[]): Promise<Note[]> =>
    (await all(sql, ...params)).map(toNote);
  const note = async (sql: string, ...params: (string | number)[]) => {
    const found = await one(sql, ...params);
    return found ? toNote(found) : undefined;
  };
  const changes = async (sql: string, ...params: (string | number)[]): Promise<number> =>
    (await pool.query(sql, params)).rowCount ?? 0;

  return {
    kind: 'postgres',
    async findPasswordHash(name) {
      const found = await one('SELECT password_hash FROM users WHERE name = $1', name);
      return typeof found?.password_hash === 'string' ? found.password_hash : undefined;
    },
    async userExists(name) {
      return (await one('SELECT name FROM users WHERE name = $1', name)) !== undefined;
    },
    listNotes(owner) {
      return notes(`SELECT ${NOTE_COLUMNS} FROM notes WHERE owner = $1 ORDER BY id`, owner);
    },
    async countNotes(owner) {
      return Number((await one('SELECT COUNT(*) AS n FROM notes WHERE owner = $1', owner))?.n ?? 0);
    },
    getNote(id, owner) {
      return note(`SELECT ${NOTE_COLUMNS} FROM notes WHERE id = $1 AND owner = $2`, id, owner);
    },
    getReadableNote(id, user) {
      return note(
        `SELECT ${NOTE_COLUMNS} FROM notes WHERE id = $1 AND (owner = $2 OR id IN ` +
          '(SELECT note_id FROM shares WHERE shared_with = $2))',
        id,
        user,
      );
    },
    async createNote(owner, title, body) {
      const row = await one(
        'INSERT INTO notes (owner, title, body) VALUES ($1, $2, $3) RETURNING id',
        owner,
        title,
        body,
      );
      return { id: Number(row?.id), owner, title, body };
    },
    async updateNote(id, owner, title, body) {
      const sql = 'UPDATE notes SET title = $1, body = $2 WHERE id = $3 AND owner = $4';
      return (await changes(sql, title, body, id, owner)) > 0;
    },
    async shareNote(id, withUser) {
      await changes(
        'INSERT INTO shares (note_id, shared_with) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        id,
        withUser,
      );
    },
    listShared(user) {
      return notes(
        'SELECT n.id, n.owner, n.title, n.body FROM notes n JOIN shares s ON s.note_id = n.id ' +
          'WHERE s.shared_with = $1 ORDER BY n.id',
        user,
      );
    },
    searchNotes(owner, text) {
      return notes(
        `SELECT ${NOTE_COLUMNS} FROM notes WHERE owner = $1 AND lower(title) LIKE $2 ESCAPE '\\' ` +
          'ORDER BY id',
        owner,
        containsPattern(text),
      );
    },

    // DELIBERATELY UNSAFE (routes/sql-legacy.ts): whatever SQL text the caller built runs as is.
    // Without parameters, pg sends a simple query, which may hold several statements.
    async unsafeQuery(sql) {
      const result = (await pool.query(sql)) as pg.QueryResult | pg.QueryResult[];
      return (Array.isArray(result) ? (result.at(-1)?.rows ?? []) : result.rows) as Row[];
    },
    async unsafeExec(sql) {
      await pool.query(sql);
    },
    // DELIBERATELY UNSAFE (IDOR): no owner condition.
    getNoteById(id) {
      return note(`SELECT ${NOTE_COLUMNS} FROM notes WHERE id = $1`, id);
    },
    async setNoteBody(id, body) {
      return (await changes('UPDATE notes SET body = $1 WHERE id = $2', body, id)) > 0;
    },

    async close() {
      await pool.end();
    },
  };
}

/** Opens every connection of the pool, and creates and seeds the schema with the first. */
async function prepare(pool: pg.Pool): Promise<void> {
  const clients = await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.connect()));
  const client = clients[0]!;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    for (const statement of SCHEMA) await client.query(statement);
    const count = await client.query('SELECT COUNT(*) AS n FROM users');
    if (Number(count.rows[0]?.n ?? 0) === 0) {
      const { users, notes } = seedRows();
      for (const user of users) {
        await client.query(
          'INSERT INTO users (name, password_hash, legacy_hash) VALUES ($1, $2, $3)',
          [user.name, user.passwordHash, user.legacyHash],
        );
      }
      for (const note of notes) {
        await client.query('INSERT INTO notes (owner, title, body) VALUES ($1, $2, $3)', [
          note.owner,
          note.title,
          note.body,
        ]);
      }
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    for (const opened of clients) opened.release();
  }
}
