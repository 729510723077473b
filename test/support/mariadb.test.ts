// The test MariaDB harness: a real server on a loopback port, reachable with mysql2, gone after
// stop() (no process, no directory). Fails, never skips, when MariaDB is not installed.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import mysql from 'mysql2/promise';
import { findMariaDB, MARIADB_MISSING, startMariaDB } from './mariadb.ts';

test('startMariaDB runs a server on 127.0.0.1 that mysql2 can query, and stop() removes it', async () => {
  assert.ok(findMariaDB(), MARIADB_MISSING);
  const server = await startMariaDB();
  try {
    assert.equal(server.host, '127.0.0.1');
    assert.match(server.url, /^mysql:\/\/leash:[0-9a-f]+@127\.0\.0\.1:\d+\/leash$/);
    const connection = await mysql.createConnection(server.url);
    try {
      const [rows] = await connection.query(
        'SELECT 1 AS one, DATABASE() AS db, CURRENT_USER() AS u, @@bind_address AS bind',
      );
      assert.deepEqual(rows, [{ one: 1, db: 'leash', u: 'leash@127.0.0.1', bind: '127.0.0.1' }]);
    } finally {
      await connection.end();
    }
    // The password is required: a wrong one is refused.
    await assert.rejects(
      mysql.createConnection(server.url.replace(/:[0-9a-f]+@/, ':x@')),
      /Access denied/,
    );
  } finally {
    await server.stop();
  }
  assert.equal(existsSync(server.dir), false);
  assert.equal(existsSync(`/proc/${server.pid}`), false);
  await server.stop(); // twice is fine
});
