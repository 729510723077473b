/**
 * @module
 * Looks into the example's database from outside the service (tests, the SQL attacks): the SQLite
 * file in DATA_DIR or the PostgreSQL database at DATABASE_URL, the same two settings the server
 * takes. It shows what an attack really did: a table created, a row changed, which password
 * hashes exist. Not part of the service.
 */

import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Note } from './db.ts';

/** Where the service keeps its data: the server's DATA_DIR and, if set, its DATABASE_URL. */
export interface DatabaseLocation {
  dataDir: string;
  databaseUrl?: string | undefined;
}

export interface UserRow {
  name: string;
  password_hash: string;
  legacy_hash: string;
}

export interface DatabaseSnapshot {
  /** Every table, sorted: an attack that creates one shows up here. */
  tables: string[];
  users: UserRow[];
  notes: Note[];
  shares: { note_id: number; shared_with: string }[];
}

export interface Probe {
  tables(): Promise<string[]>;
  /** Drops the table if it exists (resets what an earlier attack left). */
  dropTable(name: string): Promise<void>;
  note(id: number): Promise<Note | undefined>;
  notesOf(owner: string): Promise<Note[]>;
  users(): Promise<UserRow[]>;
  snapshot(): Promise<DatabaseSnapshot>;
  close(): Promise<void>;
}

type Query = (sql: string, params?: (string | number)[]) => Promise<Record<string, unknown>[]>;

/** Opens its own connection to the database; close() it when done. */
export async function openProbe(location: DatabaseLocation): Promise<Probe> {
  if (location.databaseUrl) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: location.databaseUrl });
    await client.connect();
    const query: Query = async (sql, params = []) => (await client.query(sql, params)).rows;
    return probe(query, '$', () => client.end(), "table_schema = 'public'");
  }
  const db = new DatabaseSync(join(location.dataDir, 'notes.db'), { timeout: 5000 });
  const query: Query = async (sql, params = []) => db.prepare(sql).all(...params);
  return probe(query, '?', async () => db.close(), undefined);
}

/** Everything in the database, for comparing before and after. */
export async function snapshotDatabase(location: DatabaseLocation): Promise<DatabaseSnapshot> {
  const p = await openProbe(location);
  try {
    return await p.snapshot();
  } finally {
    await p.close();
  }
}

function probe(
  query: Query,
  placeholder: '$' | '?',
  close: () => Promise<void>,
  pgSchema: string | undefined,
): Probe {
  const slot = (n: number): string => (placeholder === '$' ? `$${n}` : '?');
  const toNote = (row: Record<string, unknown>): Note => ({
    id: Number(row.id),
    owner: String(row.owner),
    title: String(row.title),
    body: String(row.body),
  });
  const self: Probe = {
    async tables() {
      const rows =
        pgSchema === undefined
          ? await query(
              "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
          : await query(
              `SELECT table_name AS name FROM information_schema.tables WHERE ${pgSchema}`,
            );
      return rows.map((row) => String(row.name)).sort();
    },
    async dropTable(name) {
      if (!/^\w+$/.test(name)) throw new Error(`not a table name: ${name}`);
      await query(`DROP TABLE IF EXISTS ${name}`);
    },
    async note(id) {
      const rows = await query(`SELECT id, owner, title, body FROM notes WHERE id = ${slot(1)}`, [
        id,
      ]);
      return rows[0] ? toNote(rows[0]) : undefined;
    },
    async notesOf(owner) {
      const sql = `SELECT id, owner, title, body FROM notes WHERE owner = ${slot(1)} ORDER BY id`;
      return (await query(sql, [owner])).map(toNote);
    },
    async users() {
      const rows = await query('SELECT name, password_hash, legacy_hash FROM users ORDER BY name');
      return rows.map((row) => ({
        name: String(row.name),
        password_hash: String(row.password_hash),
        legacy_hash: String(row.legacy_hash),
      }));
    },
    async snapshot() {
      const notes = await query('SELECT id, owner, title, body FROM notes ORDER BY id');
      const shares = await query(
        'SELECT note_id, shared_with FROM shares ORDER BY note_id, shared_with',
      );
      return {
        tables: await self.tables(),
        users: await self.users(),
        notes: notes.map(toNote),
        shares: shares.map((row) => ({
          note_id: Number(row.note_id),
          shared_with: String(row.shared_with),
        })),
      };
    },
    close,
  };
  return self;
}
