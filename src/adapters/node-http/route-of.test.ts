import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalisedRoute, pathParams } from './route-of.ts';

test('a plain node:http route replaces id-like segments with :id and drops the query', () => {
  assert.equal(normalisedRoute('GET', '/notes/42?x=1'), 'GET /notes/:id');
  assert.equal(normalisedRoute('GET', '/u/3f2504e0-4f89-11d3-9a0c-0305e82c3301/a'), 'GET /u/:id/a');
  assert.equal(normalisedRoute('DELETE', '/blobs/0123456789abcdef0123'), 'DELETE /blobs/:id');
  assert.equal(normalisedRoute('GET', '/files/report.pdf'), 'GET /files/report.pdf');
  assert.equal(normalisedRoute('POST', '/'), 'POST /');
  assert.equal(normalisedRoute(undefined, undefined), 'GET /');
});

test('the :id segments of a plain route are its params: id, id2, …', () => {
  assert.deepEqual(pathParams('/notes/42?x=1'), { id: '42' });
  assert.deepEqual(pathParams('/u/7/posts/0123456789abcdef0123'), {
    id: '7',
    id2: '0123456789abcdef0123',
  });
  assert.equal(pathParams('/files/report.pdf'), undefined);
});
