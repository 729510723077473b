import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { isSqlUnparsable, type Template, templateOf } from './template.ts';
import { isValidatorConnection } from './template-sqlite.ts';

const lite = (sql: string): Template => templateOf(sql, 'sqlite');
const unparsable = (sql: string): string => {
  try {
    lite(sql);
  } catch (error) {
    assert.ok(isSqlUnparsable(error), String(error));
    assert.equal(error.dialect, 'sqlite');
    return error.reason;
  }
  assert.fail(`parsed: ${sql}`);
};

describe('templateOf (sqlite): the dialect', () => {
  const statements = [
    'INSERT INTO notes (title, owner) VALUES (?, ?) RETURNING id',
    'INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = excluded.v',
    'INSERT INTO kv (k, v) VALUES (:k, @v) ON CONFLICT DO NOTHING',
    'SELECT * FROM notes WHERE id = $id',
    'SELECT [title], `owner`, "body" FROM [notes] WHERE [id] = ?',
    'SELECT * FROM notes LIMIT 10 OFFSET 5',
    'SELECT * FROM notes LIMIT ? OFFSET ?',
    'SELECT * FROM notes LIMIT 5, 10',
    'CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS s (id INTEGER PRIMARY KEY, body TEXT) STRICT',
    'CREATE TABLE IF NOT EXISTS g (a INT, b INT, c INT AS (a + b) STORED)',
    'CREATE INDEX IF NOT EXISTS notes_owner ON notes (owner)',
    'PRAGMA journal_mode = WAL',
    'PRAGMA foreign_keys = ON',
    'PRAGMA table_info(notes)',
    'PRAGMA main.user_version = 3',
    "SELECT json_extract(data, '$.a'), data ->> '$.b', data -> '$.c' FROM t WHERE json_valid(data)",
    'SELECT value FROM json_each(?)',
    "SELECT first || ' ' || last AS name FROM users",
    "SELECT * FROM t WHERE name LIKE ? ESCAPE '\\'",
    'SELECT * FROM t WHERE a GLOB ? AND b IS ? AND c IS NOT ? AND d REGEXP ?',
    'SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t',
    'UPDATE t SET a = u.a FROM u WHERE u.id = t.id',
    'SELECT * FROM t WHERE (a, b) > (?, ?)',
    'BEGIN IMMEDIATE',
    'COMMIT',
    'SAVEPOINT sp1',
    'RELEASE sp1',
    'DELETE FROM t WHERE id = ? RETURNING *',
    'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c',
    'CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET n = n + 1; DELETE FROM v; END',
    'CREATE TRIGGER tr INSTEAD OF INSERT ON v BEGIN INSERT INTO u VALUES (new.a); END',
    'ALTER TABLE t ADD COLUMN c TEXT NOT NULL DEFAULT 1',
    'SELECT * FROM no_such_table WHERE no_such_column = my_own_function(?)',
    "SELECT * FROM t WHERE a = 1_000 OR b = 0x1F OR c = .5 OR d = x'00ff'",
  ];
  for (const sql of statements) {
    test(`parses: ${sql}`, () => {
      assert.doesNotThrow(() => lite(sql));
    });
  }

  for (const sql of [
    "SELECT 'x'::text",
    "SELECT * FROM t WHERE a ILIKE 'x'",
    'SELECT * FROM t FOR UPDATE',
    'SHOW tables',
    'SELECT * FROM t LIMIT ALL',
    'SELECT 1abc',
    "SELECT x'ABC'",
    'SELECT ?0',
    'SELECT raise(ignore)',
    'PRAGMA = 3',
    'PRAGMA journal_mode = = WAL',
    'PRAGMA foreign_keys = ON; garbage',
    'CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM u;',
    // SQLite stops at a missing table in these two; leash checks the rest on a stand-in.
    'CREATE TRIGGER tr AFTER INSERT ON t BEGIN garbage garbage; END',
    'CREATE TRIGGER tr AFTER INSERT ON t WHEN 1 garbage BEGIN SELECT 1; END',
    'ALTER TABLE t ADD COLUMN c TEXT DEFAULT (',
    'SELECT [a FROM t',
    'SELECT * FROM t WHERE a = `x',
  ]) {
    test(`does not parse: ${sql}`, () => {
      assert.ok(unparsable(sql).length > 0);
    });
  }

  test('the reason is SQLite’s own', () => {
    assert.equal(unparsable('SELEC 1'), 'near "SELEC": syntax error');
    assert.equal(unparsable('SELECT * FROM'), 'incomplete input');
  });
});

describe('templateOf (sqlite): the template', () => {
  test('bracket, backtick and double quotes are one identifier', () => {
    const texts = new Set(
      ['SELECT title FROM notes', 'SELECT [title] FROM `notes`', 'SELECT "title" FROM [notes]'].map(
        (sql) => lite(sql).text,
      ),
    );
    assert.deepEqual([...texts], ['SELECT title FROM notes']);
  });

  test('identifiers that need quotes keep them, in one style', () => {
    assert.equal(
      lite('SELECT [select], `a b`, "Mixed" FROM t').text,
      'SELECT "select", "a b", Mixed FROM t',
    );
    assert.equal(lite('SELECT [a"b] FROM t').text, 'SELECT "a""b" FROM t');
  });

  test('== is =, != is <>', () => {
    assert.equal(
      lite('SELECT * FROM t WHERE a == 1').text,
      lite('SELECT * FROM t WHERE a = 2').text,
    );
    assert.equal(
      lite('SELECT * FROM t WHERE a != 1').text,
      lite('SELECT * FROM t WHERE a <> 2').text,
    );
  });

  test('parameter indexes follow SQLite: ?, ?NNN, and names that keep their index', () => {
    const template = lite(
      'SELECT * FROM t WHERE a = :a AND b = ? AND c = :a AND d = ?5 AND e = ? AND f = @b AND g = $c::d(e)',
    );
    assert.equal(
      template.text,
      'SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $1 AND d = $3 AND e = $4 AND f = $5 AND g = $6',
    );
    assert.deepEqual(
      template.slots.map((slot) => slot.source),
      [
        { kind: 'param', index: 0, name: ':a' },
        { kind: 'param', index: 1 },
        { kind: 'param', index: 4, name: '?5' },
        { kind: 'param', index: 5 },
        { kind: 'param', index: 6, name: '@b' },
        { kind: 'param', index: 7, name: '$c::d(e)' },
      ],
    );
  });

  test('a sign folds into its number only where it cannot be an operator', () => {
    assert.equal(
      lite('SELECT * FROM t LIMIT -1 OFFSET 3').text,
      'SELECT * FROM t LIMIT $1 OFFSET $2',
    );
    assert.deepEqual(lite('SELECT * FROM t WHERE a = -5').slots[0]!.source, {
      kind: 'literal',
      value: '-5',
    });
    assert.equal(lite('SELECT a - 1 FROM t').text, 'SELECT a - $1 FROM t');
    assert.equal(lite('SELECT a -1 FROM t').text, 'SELECT a - $1 FROM t');
    // `key` is a keyword SQLite also takes as a name: `key - 1` is a subtraction, `key '1'` an alias.
    assert.notEqual(lite('SELECT key - 1 FROM t').text, lite("SELECT key '1' FROM t").text);
  });

  test('TRUE, FALSE and double-quoted strings are names to SQLite and stay', () => {
    assert.equal(lite('SELECT * FROM t WHERE a = TRUE').text, 'SELECT * FROM t WHERE a = TRUE');
    assert.equal(lite('SELECT * FROM t WHERE a = "x y"').text, 'SELECT * FROM t WHERE a = "x y"');
  });

  test('a trigger body is one statement', () => {
    const template = lite(
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET n = n + 1; DELETE FROM v WHERE id = new.id; END; SELECT 1',
    );
    assert.equal(
      template.text,
      'CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET n = n + $1; DELETE FROM v WHERE id = new.id; END; SELECT $2',
    );
  });

  test('columns: comparisons, IN, BETWEEN, LIKE, IS NOT, INSERT rows, SET', () => {
    const columns = (sql: string) => lite(sql).slots.map((slot) => slot.column);
    assert.deepEqual(
      columns(
        'SELECT * FROM t WHERE t.a = ? AND b NOT IN (?, ?) AND c BETWEEN ? AND ? AND d NOT LIKE ? AND e IS NOT ? AND ? < f AND g + h = ?',
      ),
      ['a', 'b', 'c', 'c', 'd', 'e', 'f', undefined],
    );
    assert.deepEqual(columns('INSERT INTO main.t AS x (a, b) VALUES (?, lower(?)), (?, 2)'), [
      'a',
      undefined,
      'a',
      'b',
    ]);
    assert.deepEqual(columns('UPDATE t SET a = ?, b = b + ? WHERE id = ?'), ['a', undefined, 'id']);
  });

  test('statements are only compiled, never run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'leash-sql-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    lite(`ATTACH DATABASE '${join(dir, 'a.db')}' AS a`);
    lite(`VACUUM INTO '${join(dir, 'b.db')}'`);
    assert.equal(existsSync(join(dir, 'a.db')), false);
    assert.equal(existsSync(join(dir, 'b.db')), false);
  });

  test('the checking connection is recognisable, an application’s is not', () => {
    assert.equal(isValidatorConnection(new DatabaseSync(':memory:')), false);
  });
});
