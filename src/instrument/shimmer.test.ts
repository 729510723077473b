import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isWrapped, originalOf, wrap } from './shimmer.ts';

test('wrap replaces a method, unwrap restores it, and wrapping twice does nothing', () => {
  const target = { greet: (name: string) => `hi ${name}` };
  const original = target.greet;
  const unwrap = wrap(
    target,
    'greet',
    (inner) =>
      (...args) =>
        `${inner(...args)}!`,
  );
  assert.equal(target.greet('a'), 'hi a!');
  assert.equal(isWrapped(target.greet), true);
  assert.equal(originalOf(target.greet), original);
  wrap(
    target,
    'greet',
    (inner) =>
      (...args) =>
        `${inner(...args)}?`,
  );
  assert.equal(target.greet('a'), 'hi a!');
  unwrap();
  assert.equal(target.greet, original);
});

test('unwrap keeps a wrapper another library put over leash’s, and leash’s passes through', () => {
  const target = { n: () => 1 };
  const unwrap = wrap(target, 'n', (inner) => () => (inner() as number) + 10);
  const ours = target.n;
  target.n = () => (ours() as number) * 2;
  assert.equal(target.n(), 22);
  unwrap();
  assert.equal(target.n(), 2, 'the other wrapper stays; leash adds nothing any more');
});

test('a method inherited from a prototype is restored by deleting the own wrapper', () => {
  class Base {
    m() {
      return 'base';
    }
  }
  const object = new Base();
  const unwrap = wrap(object, 'm', (inner) => () => `wrapped ${inner()}`);
  assert.equal(object.m(), 'wrapped base');
  unwrap();
  assert.equal(Object.hasOwn(object, 'm'), false);
  assert.equal(object.m(), 'base');
});
