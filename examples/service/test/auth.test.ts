import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startApp, type TestApp } from './app.ts';

let app: TestApp;
before(async () => {
  app = await startApp();
});
after(() => app.close());

test('a wrong password is refused, and no session starts', async () => {
  const client = app.client();
  const login = await client.request('POST', '/login', {
    json: { user: 'alice', password: 'not-her-password' },
  });
  assert.equal(login.status, 401);
  assert.equal((await client.request('GET', '/me')).status, 401);
});

test('a login without a password is a bad request', async () => {
  const login = await app.client().request('POST', '/login', { json: { user: 'alice' } });
  assert.equal(login.status, 400);
});

test('login, /me, logout', async () => {
  const alice = await app.login('alice');
  const me = await alice.request('GET', '/me');
  assert.equal(me.status, 200);
  assert.deepEqual(me.json(), { user: 'alice' });

  assert.equal((await alice.request('POST', '/logout')).status, 200);
  assert.equal((await alice.request('GET', '/me')).status, 401);
});
