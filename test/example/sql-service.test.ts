// The example service's SQL features on both of its databases, without leash: embedded SQLite
// and a real PostgreSQL server (test/support/postgres.ts, loopback only). Both workloads run clean
// (sharing, search and the legacy routes used as intended), the safe routes keep users apart, and
// each of the five deliberate SQL vulnerabilities really is exploitable, which the database
// itself shows (a table created, another user's row changed, the password hashes leaked, a login
// without password, another user's note read).
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Client } from '../../examples/service/client.ts';
import { startExample } from '../../examples/service/start.ts';
import { passwordOf } from '../../examples/service/users.ts';
import {
  type DatabaseLocation,
  heldOutWorkload,
  learningWorkload,
  snapshotDatabase,
  sqlAttacks,
} from '../../examples/service/workload.ts';
import { startPostgres } from '../support/postgres.ts';

interface Note {
  id: number;
  owner: string;
  title: string;
  body: string;
}

async function loggedIn(base: string, user: string): Promise<Client> {
  const client = new Client(base);
  const reply = await client.send('POST', '/login', { json: { user, password: passwordOf(user) } });
  assert.equal(reply.status, 200, reply.body);
  return client;
}

for (const backend of ['sqlite', 'postgres'] as const) {
  test(`on ${backend}: workloads run clean, sharing and search keep users apart, the SQL attacks succeed`, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'leash-example-sql-'));
    const postgres = backend === 'postgres' ? await startPostgres() : undefined;
    const location: DatabaseLocation = { dataDir, databaseUrl: postgres?.url };
    const example = await startExample({
      dataDir,
      ...(postgres ? { databaseUrl: postgres.url } : {}),
    }).catch(async (error) => {
      await postgres?.stop();
      throw error;
    });
    try {
      const base = example.base;

      await t.test(
        'the seeded database has the users, their first notes and no shares',
        async () => {
          const seeded = await snapshotDatabase(location);
          assert.deepEqual(seeded.tables, ['notes', 'shares', 'users']);
          assert.deepEqual(
            seeded.users.map((u) => u.name),
            ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'],
          );
          assert.deepEqual(
            seeded.notes.map((n) => [n.id, n.owner, n.title]),
            seeded.users.map((u, i) => [i + 1, u.name, `Welcome, ${u.name}`]),
          );
          assert.deepEqual(seeded.shares, []);
        },
      );

      await t.test('both workloads succeed', async () => {
        const learning = await learningWorkload(base);
        assert.deepEqual(learning.failures, []);
        assert.ok(learning.requests > 150, `only ${learning.requests} requests`);
        const heldOut = await heldOutWorkload(base);
        assert.deepEqual(heldOut.failures, []);
        const after = await snapshotDatabase(location);
        assert.deepEqual(after.tables, ['notes', 'shares', 'users']);
        assert.ok(after.notes.some((n) => n.owner === 'erin' && n.title === 'Garden plan v2'));
        assert.ok(after.shares.some((s) => s.shared_with === 'frank'));
        assert.ok(after.shares.some((s) => s.shared_with === 'dave'));
      });

      await t.test('sharing, search and the own-note routes keep users apart', async () => {
        const alice = await loggedIn(base, 'alice');
        const bob = await loggedIn(base, 'bob');
        const note = await alice.json<Note>('POST', '/notes', {
          json: { title: '100% private_plan', body: 'for alice' },
        });
        assert.ok(note);
        assert.equal((await bob.send('GET', `/notes/${note.id}`)).status, 404);
        assert.equal(
          (await bob.send('POST', `/notes/${note.id}/share`, { json: { with: 'carol' } })).status,
          404,
        );
        assert.equal(
          (await alice.send('POST', `/notes/${note.id}/share`, { json: { with: 'nobody' } }))
            .status,
          404,
        );
        assert.equal(
          (await alice.send('POST', `/notes/${note.id}/share`, { json: { with: 'alice' } })).status,
          400,
        );
        // The safe search is the owner's only and treats % and _ literally.
        assert.deepEqual(
          (await alice.json<Note[]>('GET', `/search?q=${encodeURIComponent('0% PRIVATE_')}`))?.map(
            (n) => n.id,
          ),
          [note.id],
        );
        assert.deepEqual(await alice.json<Note[]>('GET', '/search?q=%25_%25'), []);
        assert.deepEqual(await bob.json<Note[]>('GET', '/search?q=private'), []);
        assert.equal((await bob.send('GET', '/search')).status, 400);

        const shared = await alice.send('POST', `/notes/${note.id}/share`, {
          json: { with: 'bob' },
        });
        assert.equal(shared.status, 200, shared.body);
        // Twice is fine.
        assert.equal(
          (await alice.send('POST', `/notes/${note.id}/share`, { json: { with: 'bob' } })).status,
          200,
        );
        assert.equal((await bob.json<Note>('GET', `/notes/${note.id}`))?.body, 'for alice');
        assert.ok((await bob.json<Note[]>('GET', '/shared'))?.some((n) => n.id === note.id));
        // Shared to read, not to write, and only with bob.
        assert.equal(
          (await bob.send('PUT', `/notes/${note.id}`, { json: { title: 't', body: 'b' } })).status,
          404,
        );
        const carol = await loggedIn(base, 'carol');
        assert.equal((await carol.send('GET', `/notes/${note.id}`)).status, 404);

        // The legacy login works with the right password only.
        const legacy = new Client(base);
        const wrong = await legacy.send('POST', '/login-legacy', {
          json: { user: 'alice', password: 'nope' },
        });
        assert.equal(wrong.status, 401);
        // The legacy rename checks the owner first.
        assert.equal(
          (await bob.send('POST', `/notes/${note.id}/rename-legacy`, { json: { title: 'x' } }))
            .status,
          404,
        );
      });

      await t.test('each SQL attack succeeds, and the database shows it', async () => {
        const before = await snapshotDatabase(location);
        const list = sqlAttacks(base, location);
        assert.deepEqual(
          list.map((a) => a.name),
          [
            'sql-login-bypass',
            'sql-union',
            'sql-stacked-query',
            'sql-idor-read',
            'sql-idor-update',
          ],
        );
        const outcomes = new Map<string, string>();
        for (const attack of list) {
          const outcome = await attack.run();
          assert.equal(outcome.succeeded, true, `${attack.name}: ${outcome.evidence}`);
          outcomes.set(attack.name, outcome.evidence);
        }
        const after = await snapshotDatabase(location);

        // Stacked query: a table no route creates.
        assert.deepEqual(before.tables, ['notes', 'shares', 'users']);
        assert.deepEqual(after.tables, ['notes', 'pwned', 'shares', 'users']);
        // UNION: every user's password hash was in the answer (run() compares with the table).
        const users = after.users.length;
        assert.match(outcomes.get('sql-union') ?? '', new RegExp(`^${users} of ${users} password`));
        // IDOR update: alice's first note now holds bob's text; nothing else changed but bob's
        // own note that the stacked query renamed.
        const changed = after.notes.filter(
          (n) => JSON.stringify(n) !== JSON.stringify(before.notes.find((b) => b.id === n.id)),
        );
        assert.deepEqual(
          changed.map((n) => [n.id, n.owner]),
          [
            [1, 'alice'],
            [2, 'bob'],
          ],
        );
        assert.match(changed[0]?.body ?? '', /^overwritten by bob [0-9a-f]{8}$/);
        assert.equal(changed[1]?.title, 'x');
        assert.equal(after.notes.length, before.notes.length);
        assert.deepEqual(after.shares, before.shares);
        assert.deepEqual(after.users, before.users);
        // IDOR read and login bypass: bob read alice's note, and the session became alice's.
        assert.match(outcomes.get('sql-idor-read') ?? '', /"owner":"alice"/);
        assert.match(outcomes.get('sql-login-bypass') ?? '', /\/me: 200 \{"user":"alice"\}/);

        // Again: the attacks reset what they check, so they can be repeated.
        for (const attack of list) {
          assert.equal((await attack.run()).succeeded, true, `${attack.name}, second run`);
        }
      });
    } finally {
      await example.stop();
      await postgres?.stop();
    }
  });
}
