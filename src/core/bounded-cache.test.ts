import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedCache } from './bounded-cache.ts';

test('holds at most two generations of entries', () => {
  const cache = new BoundedCache<number, string>(3);
  for (let i = 0; i < 100; i++) cache.set(i, `v${i}`);
  assert.ok(cache.size <= 6, `size ${cache.size}`);
  assert.equal(cache.get(99), 'v99');
  assert.equal(cache.get(0), undefined);
});

test('an entry read recently survives while unread ones are evicted', () => {
  const cache = new BoundedCache<string, number>(2);
  cache.set('hot', 1);
  for (let i = 0; i < 50; i++) {
    cache.set(`cold${i}`, i);
    assert.equal(cache.get('hot'), 1, `after ${i} other entries`);
  }
  assert.equal(cache.get('cold0'), undefined);
});

test('resolve computes once per key while it is held, and null is a value', () => {
  const cache = new BoundedCache<string, string | null>(10);
  let calls = 0;
  const compute = (key: string) => {
    calls++;
    return key === 'none' ? null : key.toUpperCase();
  };
  assert.equal(cache.resolve('a', compute), 'A');
  assert.equal(cache.resolve('a', compute), 'A');
  assert.equal(cache.resolve('none', compute), null);
  assert.equal(cache.resolve('none', compute), null);
  assert.equal(calls, 2);
});

test('a limit below 1 is refused', () => {
  assert.throws(() => new BoundedCache(0), RangeError);
});
