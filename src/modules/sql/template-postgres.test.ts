import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { prepareSqlParsers, type Template, templateOf } from './template.ts';

before(() => prepareSqlParsers());

const pg = (sql: string): Template => templateOf(sql, 'postgres');
const sources = (template: Template) => template.slots.map((slot) => slot.source);

describe('templateOf (postgres)', () => {
  test('slots are numbered in order of appearance in the template, not of the AST', () => {
    const a = pg('SELECT * FROM notes ORDER BY id LIMIT 10 OFFSET 5');
    const b = pg('SELECT * FROM notes ORDER BY id OFFSET 5 LIMIT 10');
    assert.equal(a.text, 'SELECT * FROM notes ORDER BY id LIMIT $1 OFFSET $2');
    assert.equal(b.text, a.text);
    assert.deepEqual(sources(b), [
      { kind: 'literal', value: '10' },
      { kind: 'literal', value: '5' },
    ]);
  });

  test('parameters keep which bound value they are', () => {
    const template = pg('SELECT * FROM notes WHERE owner = $2 AND id = $1');
    assert.equal(template.text, 'SELECT * FROM notes WHERE owner = $1 AND id = $2');
    assert.deepEqual(sources(template), [
      { kind: 'param', index: 1 },
      { kind: 'param', index: 0 },
    ]);
  });

  test('a parameter used twice is one slot', () => {
    const template = pg('SELECT * FROM notes WHERE owner = $1 OR editor = $1');
    assert.equal(template.text, 'SELECT * FROM notes WHERE owner = $1 OR editor = $1');
    assert.equal(template.slots.length, 1);
  });

  test('literal values as strings', () => {
    const template = pg(
      "SELECT 0, 2.50, -7, true, false, '', E'a\\nb', $$d$$, B'101' FROM notes WHERE a = 9223372036854775808",
    );
    assert.deepEqual(
      template.slots.map((slot) => (slot.source.kind === 'literal' ? slot.source.value : null)),
      ['0', '2.50', '-7', 'true', 'false', '', 'a\nb', 'd', 'b101', '9223372036854775808'],
    );
  });

  test('casts, typed literals and type modifiers', () => {
    assert.equal(
      pg("SELECT * FROM t WHERE d > '2020-01-01'::date").text,
      pg("SELECT * FROM t WHERE d > date '2021-12-31'").text,
    );
    assert.equal(
      pg('SELECT CAST(a AS numeric(10,2)) FROM t').text,
      'SELECT CAST(a AS numeric(10, 2)) FROM t',
    );
    assert.equal(
      pg('CREATE TABLE t (b numeric(10,2) CHECK (b > 0), c varchar(20))').text,
      'CREATE TABLE t (b numeric(10, 2) CHECK (b > $1), c varchar(20))',
    );
  });

  test('options and keywords written as constants stay in the text', () => {
    assert.deepEqual(pg('BEGIN ISOLATION LEVEL SERIALIZABLE').slots, []);
    assert.equal(pg('SELECT extract(epoch FROM now())').text, 'SELECT EXTRACT(EPOCH FROM now())');
    assert.equal(pg('SELECT normalize(a, NFC) FROM t').slots.length, 0);
    assert.equal(
      pg('SELECT a, b FROM t GROUP BY 1 ORDER BY 2').text,
      'SELECT a, b FROM t GROUP BY 1 ORDER BY 2',
    );
  });

  test('columns: comparisons, ANY, INSERT, UPDATE, ON CONFLICT, SET (a, b) = (…)', () => {
    const columns = (sql: string) => pg(sql).slots.map((slot) => slot.column);
    assert.deepEqual(columns('SELECT * FROM t WHERE a = ANY($1) AND $2 < b AND c + 1 = 2'), [
      'a',
      'b',
      undefined,
      undefined,
    ]);
    assert.deepEqual(
      columns('INSERT INTO t (a, b) VALUES ($1, 2) ON CONFLICT (a) DO UPDATE SET b = $3'),
      ['a', 'b', 'b'],
    );
    assert.deepEqual(columns('UPDATE t SET (a, b) = ($1, 2), c = 3 WHERE t.id = $4'), [
      'a',
      'b',
      'c',
      'id',
    ]);
    assert.equal(
      pg('UPDATE t SET (a, b) = ($1, $2) WHERE id = $3').text,
      'UPDATE t SET (a, b) = ($1, $2) WHERE id = $3',
    );
  });

  test('identifiers outside ASCII (byte offsets)', () => {
    const template = pg(
      'SELECT "naïve", "日本" FROM t WHERE "é" = \'x\' AND b = $1 AND c IN (1, 2)',
    );
    assert.equal(
      template.text,
      'SELECT "naïve", "日本" FROM t WHERE "é" = $1 AND b = $2 AND c IN ($3)',
    );
    assert.equal(template.slots[0]!.column, 'é');
  });

  test('quoted identifiers keep their case; needless quotes go', () => {
    assert.equal(pg('SELECT "title" FROM "notes"').text, 'SELECT title FROM notes');
    assert.equal(pg('SELECT "Title" FROM "Notes"').text, 'SELECT "Title" FROM "Notes"');
  });

  test('a stacked statement after a string literal', () => {
    const template = pg("SELECT * FROM notes WHERE title = 'x'; DELETE FROM notes; --'");
    assert.equal(template.text, 'SELECT * FROM notes WHERE title = $1; DELETE FROM notes');
  });

  test('PostgreSQL syntax round-trips', () => {
    for (const sql of [
      'INSERT INTO kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v RETURNING k',
      "SELECT data->>'a' FROM t WHERE data @> '{\"a\":1}'::jsonb",
      'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c',
      'SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t FOR UPDATE SKIP LOCKED',
      "SELECT * FROM t WHERE ts > now() - interval '1 day'",
      'MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN UPDATE SET a = 1',
      'CREATE OR REPLACE FUNCTION f(a int) RETURNS int AS $$ SELECT a + 1 $$ LANGUAGE sql',
      'SET statement_timeout = 5000',
      'LISTEN events',
    ]) {
      assert.doesNotThrow(() => pg(sql), sql);
    }
  });
});
