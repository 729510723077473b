// Its own file (so its own process): nothing here may load the PostgreSQL parser first.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createStatementCache } from './statement-cache.ts';
import { isSqlParserReady, isSqlUnparsable, prepareSqlParsers, templateOf } from './template.ts';

test('a PostgreSQL statement before the parser is loaded is refused, then parses once it is', async () => {
  assert.equal(isSqlParserReady('postgres'), false);
  assert.equal(isSqlParserReady('sqlite'), true);
  const cache = createStatementCache();
  const sql = 'SELECT * FROM notes WHERE id = $1';
  for (const attempt of [() => templateOf(sql, 'postgres'), () => cache.get(sql, 'postgres')]) {
    assert.throws(attempt, (error: unknown) => {
      assert.ok(isSqlUnparsable(error));
      assert.equal(error.code, 'ERR_LEASH_SQL_UNPARSABLE');
      assert.equal(error.notReady, true);
      assert.match(error.message, /prepareSqlParsers/);
      return true;
    });
  }
  // SQLite needs nothing loaded.
  assert.equal(
    cache.get('SELECT * FROM notes WHERE id = ?', 'sqlite').text,
    'SELECT * FROM notes WHERE id = $1',
  );

  const loading = prepareSqlParsers();
  assert.equal(prepareSqlParsers(), loading);
  await loading;
  assert.equal(isSqlParserReady('postgres'), true);
  // The refusal was not cached.
  assert.equal(cache.get(sql, 'postgres').text, 'SELECT * FROM notes WHERE id = $1');
});
