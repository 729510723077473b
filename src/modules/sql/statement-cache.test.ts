import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { createStatementCache } from './statement-cache.ts';
import { isSqlUnparsable, prepareSqlParsers, SQL_DIALECTS } from './template.ts';

before(() => prepareSqlParsers());

describe('createStatementCache', () => {
  for (const dialect of SQL_DIALECTS) {
    test(`returns the same template object for the same text (${dialect})`, () => {
      const cache = createStatementCache();
      const sql = 'SELECT * FROM notes WHERE id = 1';
      const first = cache.get(sql, dialect);
      assert.equal(first.text, 'SELECT * FROM notes WHERE id = $1');
      assert.equal(cache.get(sql, dialect), first);
      // A text built anew (another string object) finds the same entry.
      assert.equal(cache.get(['SELECT * FROM notes', 'WHERE id = 1'].join(' '), dialect), first);
      // Another text of the same structure is another entry, with an equal template.
      const other = cache.get('SELECT * FROM notes WHERE id = 2', dialect);
      assert.notEqual(other, first);
      assert.equal(other.text, first.text);
    });

    test(`remembers a statement that does not parse (${dialect})`, () => {
      const cache = createStatementCache();
      const thrown: unknown[] = [];
      for (let i = 0; i < 2; i++) {
        assert.throws(
          () => cache.get("SELECT 'unterminated", dialect),
          (error: unknown) => {
            thrown.push(error);
            return isSqlUnparsable(error) && error.dialect === dialect;
          },
        );
      }
      assert.equal(thrown[0], thrown[1]);
      assert.equal(cache.size, 1);
    });
  }

  test('keys by dialect as well as text', () => {
    const cache = createStatementCache();
    const sql = 'SELECT * FROM notes WHERE owner = $1';
    const postgres = cache.get(sql, 'postgres');
    // `$1` is a named parameter to SQLite: same text, another template.
    const sqlite = cache.get(sql, 'sqlite');
    assert.notEqual(postgres, sqlite);
    assert.deepEqual(postgres.slots[0]!.source, { kind: 'param', index: 0 });
    assert.deepEqual(sqlite.slots[0]!.source, { kind: 'param', index: 0, name: '$1' });
    assert.equal(cache.get(sql, 'postgres'), postgres);
    assert.equal(cache.get(sql, 'sqlite'), sqlite);
    assert.equal(cache.size, 1);
  });

  test('evicts the least recently used text beyond max', () => {
    const cache = createStatementCache({ max: 3 });
    const sql = (n: number) => `SELECT * FROM notes WHERE id = ${n}`;
    const t1 = cache.get(sql(1), 'sqlite');
    const t2 = cache.get(sql(2), 'sqlite');
    cache.get(sql(3), 'sqlite');
    assert.equal(cache.get(sql(1), 'sqlite'), t1); // 1 is now the most recently used
    cache.get(sql(4), 'sqlite'); // evicts 2
    assert.equal(cache.size, 3);
    assert.equal(cache.get(sql(1), 'sqlite'), t1);
    const again = cache.get(sql(2), 'sqlite'); // parsed again: a new object
    assert.notEqual(again, t2);
    assert.equal(again.text, t2.text);
    assert.equal(cache.size, 3);
    for (let n = 10; n < 100; n++) cache.get(sql(n), 'sqlite');
    assert.equal(cache.size, 3);
  });

  test('does not keep texts longer than maxLength', () => {
    const cache = createStatementCache({ maxLength: 40 });
    const long = `SELECT * FROM notes WHERE id IN (${'1, '.repeat(20)}1)`;
    const a = cache.get(long, 'sqlite');
    assert.equal(a.text, 'SELECT * FROM notes WHERE id IN ($1)');
    assert.notEqual(cache.get(long, 'sqlite'), a);
    assert.equal(cache.size, 0);
  });

  test('clear', () => {
    const cache = createStatementCache();
    cache.get('SELECT 1', 'sqlite');
    cache.clear();
    assert.equal(cache.size, 0);
  });

  test('max must be a positive integer', () => {
    assert.throws(() => createStatementCache({ max: 0 }), RangeError);
  });
});
