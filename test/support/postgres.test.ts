// The test PostgreSQL harness: a real server on a loopback port, reachable with `pg`, gone after
// stop() (no process, no directory). Fails, never skips, when PostgreSQL is not installed.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { findPostgresBin, POSTGRES_MISSING, startPostgres } from './postgres.ts';

/** Alive and not a zombie waiting to be reaped. */
function running(pid: number | undefined): boolean {
  if (pid === undefined || !existsSync(`/proc/${pid}/stat`)) return false;
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

test('startPostgres runs a server on 127.0.0.1 that pg can query, and stop() removes it', async () => {
  assert.ok(findPostgresBin(), POSTGRES_MISSING);
  const server = await startPostgres();
  let pid: number | undefined;
  try {
    assert.equal(server.host, '127.0.0.1');
    assert.match(server.url, /^postgres:\/\/leash:[0-9a-f]+@127\.0\.0\.1:\d+\/leash$/);
    pid = Number(readFileSync(`${server.dir}/data/postmaster.pid`, 'utf8').split('\n')[0]);
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT 1 AS one, current_database() AS db, current_user AS u',
      );
      assert.deepEqual(rows, [{ one: 1, db: 'leash', u: 'leash' }]);
      const listen = await client.query('SHOW listen_addresses');
      assert.equal(listen.rows[0].listen_addresses, '127.0.0.1');
    } finally {
      await client.end();
    }
    // The password is required: a wrong one is refused.
    const intruder = new pg.Client({ connectionString: server.url.replace(/:[0-9a-f]+@/, ':x@') });
    await assert.rejects(intruder.connect(), /password authentication failed/);
  } finally {
    await server.stop();
  }
  await server.stop();
  assert.equal(existsSync(server.dir), false, 'directory left behind');
  // pg_ctl returns once the pid file is gone, a moment before the process itself.
  for (let i = 0; i < 50 && running(pid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(running(pid), false, `server ${pid} still running`);
});
