import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Note } from '../db.ts';
import { startApp, type TestApp } from './app.ts';

let app: TestApp;
before(async () => {
  app = await startApp();
});
after(() => app.close());

test('notes need a login', async () => {
  assert.equal((await app.client().request('GET', '/notes')).status, 401);
});

test('a new user has the seeded welcome note', async () => {
  const alice = await app.login('alice');
  const notes = (await alice.request('GET', '/notes')).json<Note[]>();
  assert.deepEqual(
    notes.map((n) => [n.owner, n.title]),
    [['alice', 'Welcome, alice']],
  );
});

test('create, read, update and search a note', async () => {
  const bob = await app.login('bob');
  const created = await bob.request('POST', '/notes', {
    json: { title: 'Groceries', body: 'milk' },
  });
  assert.equal(created.status, 201);
  const { id } = created.json<Note>();

  assert.deepEqual((await bob.request('GET', `/notes/${id}`)).json(), {
    id,
    owner: 'bob',
    title: 'Groceries',
    body: 'milk',
  });

  const updated = await bob.request('PUT', `/notes/${id}`, {
    json: { title: 'Groceries', body: 'milk, eggs' },
  });
  assert.equal(updated.status, 200);
  assert.equal((await bob.request('GET', `/notes/${id}`)).json<Note>().body, 'milk, eggs');

  const found = (await bob.request('GET', '/search?q=grocer')).json<Note[]>();
  assert.deepEqual(
    found.map((n) => n.id),
    [id],
  );
  assert.ok((await bob.request('GET', '/notes')).json<Note[]>().some((n) => n.id === id));
});

test('a note without a title is refused', async () => {
  const bob = await app.login('bob');
  const res = await bob.request('POST', '/notes', { json: { body: 'no title' } });
  assert.equal(res.status, 400);
});

test("another user's note is not readable until it is shared", async () => {
  const carol = await app.login('carol');
  const dave = await app.login('dave');
  const { id } = (
    await carol.request('POST', '/notes', { json: { title: 'Plans', body: 'secret' } })
  ).json<Note>();

  assert.equal((await dave.request('GET', `/notes/${id}`)).status, 404);
  assert.equal(
    (await dave.request('PUT', `/notes/${id}`, { json: { title: 'Mine', body: '' } })).status,
    404,
  );

  const shared = await carol.request('POST', `/notes/${id}/share`, { json: { with: 'dave' } });
  assert.equal(shared.status, 200);
  assert.equal((await dave.request('GET', `/notes/${id}`)).json<Note>().body, 'secret');
  assert.deepEqual(
    (await dave.request('GET', '/shared')).json<Note[]>().map((n) => n.title),
    ['Plans'],
  );
});
