import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Note } from '../db.ts';
import { startApp, type TestApp } from './app.ts';

let app: TestApp;
before(async () => {
  app = await startApp();
});
after(() => app.close());

test('the home page greets a guest', async () => {
  const res = await app.client().request('GET', '/');
  assert.equal(res.status, 200);
  assert.match(res.type, /^text\/html/);
  assert.match(res.text, /<h1>Welcome<\/h1>/);
  assert.match(res.text, /Log in to see your notes\./);
});

test('the home page counts the logged-in user’s notes', async () => {
  const alice = await app.login('alice');
  const res = await alice.request('GET', '/');
  assert.match(res.text, /<h1>Hello, alice<\/h1>/);
  assert.match(res.text, /You have 1 notes\./);
});

test('a note’s page shows it, HTML-escaped', async () => {
  const alice = await app.login('alice');
  const { id } = (
    await alice.request('POST', '/notes', { json: { title: 'Tags', body: '<b>bold</b>' } })
  ).json<Note>();
  const res = await alice.request('GET', `/notes/${id}/view`);
  assert.equal(res.status, 200);
  assert.match(res.text, /<h1>Tags<\/h1>/);
  assert.match(res.text, /&lt;b&gt;bold&lt;\/b&gt;/);
});

test('the stylesheet is served from public/', async () => {
  const res = await app.client().request('GET', '/static/style.css');
  assert.equal(res.status, 200);
  assert.match(res.type, /^text\/css/);
});
