import assert from 'node:assert/strict';
import { test } from 'node:test';
import { watchBody } from './body.ts';

function feed(headers: Record<string, string>, chunks: Array<string | Buffer>): unknown {
  let body: unknown = 'not read';
  const watcher = watchBody(headers, (parsed) => {
    body = parsed;
  });
  if (watcher === undefined) return 'not watched';
  for (const chunk of chunks) watcher.see('data', chunk);
  watcher.see('end', undefined);
  return body;
}

test('a JSON or form body is read as it streams past, in any number of chunks', () => {
  assert.deepEqual(
    feed({ 'content-type': 'application/json' }, ['{"title":', Buffer.from('"a"}')]),
    {
      title: 'a',
    },
  );
  assert.deepEqual(
    feed({ 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, ['a=1&b=two']),
    { a: '1', b: 'two' },
  );
  assert.deepEqual(feed({ 'content-type': 'application/vnd.api+json' }, ['[1]']), [1]);
});

test('other types, bodies over 64 KiB and bodies that do not parse are left alone', () => {
  assert.equal(feed({ 'content-type': 'text/plain' }, ['x']), 'not watched');
  assert.equal(feed({}, ['x']), 'not watched');
  assert.equal(
    feed({ 'content-type': 'application/json', 'content-length': String(1 << 20) }, ['{}']),
    'not watched',
  );
  assert.equal(
    feed({ 'content-type': 'application/json' }, [Buffer.alloc(65 * 1024, 32)]),
    'not read',
  );
  assert.equal(feed({ 'content-type': 'application/json' }, ['{not json']), 'not read');
});
