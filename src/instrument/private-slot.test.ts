import assert from 'node:assert/strict';
import { test } from 'node:test';
import { privateSlot } from './private-slot.ts';

test('a private slot keeps a value per object, unseen by the object’s own keys', () => {
  const slot = privateSlot<{ n: number }>();
  const target = { a: 1 };
  assert.equal(slot.get(target), undefined);
  slot.set(target, { n: 1 });
  assert.deepEqual(slot.get(target), { n: 1 });
  slot.set(target, { n: 2 });
  assert.deepEqual(slot.get(target), { n: 2 });
  assert.deepEqual(Reflect.ownKeys(target), ['a']);
  assert.deepEqual(JSON.parse(JSON.stringify(target)), { a: 1 });
  // Not inherited: an object made from it has no value of its own.
  assert.equal(slot.get(Object.create(target) as object), undefined);
});

test('two slots never see each other’s values; null-prototype objects and functions take one', () => {
  const first = privateSlot<string>();
  const second = privateSlot<string>();
  const bare = Object.create(null) as object;
  first.set(bare, 'one');
  assert.equal(first.get(bare), 'one');
  assert.equal(second.get(bare), undefined);
  const fn = () => {};
  second.set(fn, 'two');
  assert.equal(second.get(fn), 'two');
  assert.equal(first.get(fn), undefined);
});
