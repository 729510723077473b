import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sqlConstraintKind } from '../../core/kinds/sql.ts';
import { looksSecret, secretSlots, valueDigest } from './sensitive.ts';

test('e-mail addresses, password hashes, long hex, JWTs and high-entropy tokens look secret', () => {
  for (const value of [
    'ann@example.org',
    '$2b$10$abcdefghijklmnopqrstuv',
    'a3f1c2d4e5b60718293a4b5c6d7e8f90:0f1e2d3c4b5a69788796a5b4c3d2e1f0',
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
    'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  ])
    assert.ok(looksSecret(value), value);
  for (const value of ['alice', 'Groceries', '42', 'active', 'a note about the weekend trip'])
    assert.ok(!looksSecret(value), value);
});

test('slots bound to columns named like secrets, in comparisons and inserts', () => {
  assert.deepEqual(
    [...secretSlots('SELECT name FROM users WHERE name = $1 AND legacy_hash = $2')],
    ['$2'],
  );
  assert.deepEqual(
    [
      ...secretSlots('INSERT INTO users (name, password_hash, "apiKey") VALUES ($1, $2, $3)'),
    ].sort(),
    ['$2', '$3'],
  );
  assert.deepEqual([...secretSlots('UPDATE users SET email = $1 WHERE id = $2')], ['$1']);
  assert.deepEqual([...secretSlots('SELECT * FROM t WHERE $1 = token')], ['$1']);
  assert.deepEqual(
    [...secretSlots('SELECT * FROM notes WHERE hashtag = $1 AND footprint = $2')],
    [],
    'a secret word must be a word of the name',
  );
});

test('a digest observation matches only the same digest and never becomes a constant', () => {
  const kind = sqlConstraintKind();
  const a = JSON.stringify({ eq: [], h: valueDigest('s3cret-one', 22) });
  const b = JSON.stringify({ eq: [], h: valueDigest('s3cret-two', 22) });
  const c = JSON.stringify({ eq: [], h: valueDigest('s3cret-three', 22) });
  assert.equal(kind.validate(kind.key(a)), undefined);
  assert.ok(kind.matches(kind.key(a), a));
  assert.ok(!kind.matches(kind.key(a), b));
  const keys = [a, b, c].map((f) => kind.key(f)).sort();
  const [collapse] = kind.collapse(keys, { threshold: 3, roots: [], homes: [] });
  assert.equal(collapse?.pattern, '*', 'three distinct secrets: any value, not a list of digests');
  assert.match(kind.validate('{"eq":[],"h":"x","v":"y"}') ?? '', /not both/);
});
