import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import {
  isSqlUnparsable,
  prepareSqlParsers,
  type SqlDialect,
  type Template,
  templateOf,
} from './template.ts';

before(() => prepareSqlParsers());

/** `?` in the statements below is the dialect's placeholder: `$1, $2, …` or `?`. */
function inDialect(dialect: SqlDialect, sql: string): string {
  let n = 0;
  return dialect === 'postgres' ? sql.replaceAll('?', () => `$${++n}`) : sql;
}

const text = (dialect: SqlDialect, sql: string): string =>
  templateOf(inDialect(dialect, sql), dialect).text;

/** Where an attacker's input lands in the application's statement. */
const owned = (input: string): string =>
  `SELECT * FROM notes WHERE title = '${input}' AND owner = ?`;

const SAME: readonly (readonly [string, string, string])[] = [
  [
    'whitespace',
    'SELECT * FROM notes WHERE id = ? AND owner = ?',
    'SELECT *\n  FROM   notes\n\tWHERE id=?\n  AND owner  =  ?',
  ],
  [
    'comments',
    'SELECT * FROM notes WHERE id = ?',
    '/* lead */ SELECT * -- all of it\nFROM notes /* the table */ WHERE id = ? -- done',
  ],
  ['keyword case', 'SELECT * FROM notes WHERE id = ?', 'select * from notes where id = ?'],
  ['identifier quoting', 'SELECT title FROM notes', 'SELECT "title" FROM "notes"'],
  ['integer values', 'SELECT * FROM notes WHERE id = 1', 'SELECT * FROM notes WHERE id = 4242'],
  ['negative values', 'SELECT * FROM notes WHERE id = 1', 'SELECT * FROM notes WHERE id = -7'],
  [
    'string values',
    "SELECT * FROM notes WHERE title = 'a'",
    "SELECT * FROM notes WHERE title = 'it''s'",
  ],
  [
    'IN of 1 and 2',
    'SELECT * FROM notes WHERE id IN (1)',
    'SELECT * FROM notes WHERE id IN (1, 2)',
  ],
  [
    'IN of 2 and 5',
    'SELECT * FROM notes WHERE id IN (1, 2)',
    'SELECT * FROM notes WHERE id IN (1, 2, 3, 4, 5)',
  ],
  [
    'IN of parameters',
    'SELECT * FROM notes WHERE id IN (?)',
    'SELECT * FROM notes WHERE id IN (?, ?, ?, ?, ?)',
  ],
  [
    'IN of mixed items',
    'SELECT * FROM notes WHERE id IN (1)',
    'SELECT * FROM notes WHERE id IN (?, 2)',
  ],
  ['a final semicolon', 'SELECT * FROM notes', 'SELECT * FROM notes;'],
  [
    'LIMIT values',
    'SELECT * FROM notes ORDER BY id LIMIT 10 OFFSET 0',
    'SELECT * FROM notes ORDER BY id LIMIT 50 OFFSET 100',
  ],
];

const DIFFERENT: readonly (readonly [string, string, string])[] = [
  ['tautology', owned('x'), owned("' OR '1'='1")],
  ['OR 1=1', 'SELECT * FROM notes WHERE id = 1', 'SELECT * FROM notes WHERE id = 1 OR 1=1'],
  ['UNION SELECT', owned('x'), owned("' UNION SELECT password FROM users --")],
  [
    'UNION SELECT after a number',
    'SELECT title FROM notes WHERE id = 1',
    'SELECT title FROM notes WHERE id = 1 UNION SELECT password FROM users',
  ],
  [
    'stacked statement',
    'SELECT * FROM notes WHERE id = 1',
    'SELECT * FROM notes WHERE id = 1; DROP TABLE notes',
  ],
  ['stacked statement in a string', owned('x'), owned("'; DROP TABLE notes; --")],
  ['a comment that cuts the rest', owned('x'), owned("x'--")],
  ['a block comment that cuts the rest', owned('x'), owned("x'/*")],
  [
    'an extra INSERT column',
    'INSERT INTO notes (title, owner) VALUES (?, ?)',
    'INSERT INTO notes (title, owner, admin) VALUES (?, ?, 1)',
  ],
  ['another table', 'SELECT * FROM notes WHERE id = ?', 'SELECT * FROM users WHERE id = ?'],
  ['another column', 'SELECT * FROM notes WHERE id = ?', 'SELECT * FROM notes WHERE owner = ?'],
  ['another output column', 'SELECT title FROM notes', 'SELECT password FROM notes'],
  ['LIMIT added', 'SELECT * FROM notes', 'SELECT * FROM notes LIMIT 1'],
  ['ORDER BY column', 'SELECT * FROM notes ORDER BY title', 'SELECT * FROM notes ORDER BY owner'],
  [
    'ORDER BY direction',
    'SELECT * FROM notes ORDER BY title',
    'SELECT * FROM notes ORDER BY title DESC',
  ],
  [
    'ORDER BY position',
    'SELECT id, title FROM notes ORDER BY 1',
    'SELECT id, title FROM notes ORDER BY 2',
  ],
  [
    'GROUP BY position',
    'SELECT owner, count(*) FROM notes GROUP BY 1',
    'SELECT owner, count(*) FROM notes GROUP BY 2',
  ],
  [
    'a subquery',
    'SELECT * FROM notes WHERE owner = 1',
    'SELECT * FROM notes WHERE owner = (SELECT id FROM users LIMIT 1)',
  ],
  ['= against IN', 'SELECT * FROM notes WHERE id = ?', 'SELECT * FROM notes WHERE id IN (?)'],
  [
    'IN against NOT IN',
    'SELECT * FROM notes WHERE id IN (1, 2)',
    'SELECT * FROM notes WHERE id NOT IN (1, 2)',
  ],
  [
    'an IN list with a column',
    'SELECT * FROM notes WHERE id IN (1, 2)',
    'SELECT * FROM notes WHERE id IN (1, owner)',
  ],
  ['another operator', 'SELECT * FROM notes WHERE id = 1', 'SELECT * FROM notes WHERE id > 1'],
  [
    'NULL against a value',
    'SELECT * FROM notes WHERE owner = NULL',
    "SELECT * FROM notes WHERE owner = 'x'",
  ],
  [
    'a parameter used twice against two',
    'SELECT * FROM notes WHERE owner = ?1 OR editor = ?1',
    'SELECT * FROM notes WHERE owner = ?1 OR editor = ?2',
  ],
  ['identifier case', 'SELECT * FROM "Notes"', 'SELECT * FROM "notes"'],
];

for (const dialect of ['postgres', 'sqlite'] as const) {
  describe(`templateOf (${dialect})`, () => {
    for (const [what, a, b] of SAME) {
      test(`same template: ${what}`, () => {
        assert.equal(text(dialect, a), text(dialect, b));
      });
    }
    for (const [what, a, b] of DIFFERENT) {
      test(`different template: ${what}`, () => {
        // `?1` is SQLite's numbered parameter; PostgreSQL writes `$1`.
        const fix = (sql: string) =>
          dialect === 'postgres' ? sql.replaceAll('?1', '$1').replaceAll('?2', '$2') : sql;
        // A variant that does not parse is never allowed either (PostgreSQL rejects an
        // unterminated /* comment, SQLite ends it at the end of the text).
        let other: string | undefined;
        try {
          other = text(dialect, fix(b));
        } catch (error) {
          assert.ok(isSqlUnparsable(error));
          return;
        }
        assert.notEqual(text(dialect, fix(a)), other);
      });
    }

    test('the template keeps slots in order of appearance', () => {
      const template = templateOf(
        inDialect(dialect, 'SELECT * FROM notes WHERE id = ? AND owner = ?'),
        dialect,
      );
      assert.equal(template.text, 'SELECT * FROM notes WHERE id = $1 AND owner = $2');
      assert.deepEqual(template.slots, [
        { slot: '$1', source: { kind: 'param', index: 0 }, column: 'id' },
        { slot: '$2', source: { kind: 'param', index: 1 }, column: 'owner' },
      ]);
    });

    test('literals become slots with their values; NULL stays', () => {
      const template = templateOf(
        "SELECT * FROM notes WHERE title = 'it''s' AND id = -3 AND body IS NULL",
        dialect,
      );
      assert.equal(
        template.text,
        'SELECT * FROM notes WHERE title = $1 AND id = $2 AND body IS NULL',
      );
      assert.deepEqual(template.slots, [
        { slot: '$1', source: { kind: 'literal', value: "it's" }, column: 'title' },
        { slot: '$2', source: { kind: 'literal', value: '-3' }, column: 'id' },
      ]);
    });

    test('an IN list is one list slot with one source per item', () => {
      const template = templateOf(
        inDialect(dialect, "SELECT * FROM notes WHERE owner = ? AND id IN (?, 'x', ?)"),
        dialect,
      );
      assert.equal(template.text, 'SELECT * FROM notes WHERE owner = $1 AND id IN ($2)');
      assert.deepEqual(template.slots[1], {
        slot: '$2',
        list: true,
        column: 'id',
        source: {
          kind: 'list',
          items: [
            { kind: 'param', index: 1 },
            { kind: 'literal', value: 'x' },
            { kind: 'param', index: 2 },
          ],
        },
      });
    });

    test('INSERT values and UPDATE assignments know their columns', () => {
      const insert = templateOf(
        inDialect(dialect, "INSERT INTO notes (title, body, owner) VALUES (?, 'x', ?)"),
        dialect,
      );
      assert.equal(
        insert.text.replace('notes(', 'notes ('),
        'INSERT INTO notes (title, body, owner) VALUES ($1, $2, $3)',
      );
      assert.deepEqual(
        insert.slots.map((slot) => [slot.slot, slot.column]),
        [
          ['$1', 'title'],
          ['$2', 'body'],
          ['$3', 'owner'],
        ],
      );
      assert.deepEqual(insert.slots[2]!.source, { kind: 'param', index: 1 });

      const update = templateOf(
        inDialect(dialect, 'UPDATE notes SET title = ?, body = ? WHERE id = ? AND owner = ?'),
        dialect,
      );
      assert.deepEqual(
        update.slots.map((slot) => slot.column),
        ['title', 'body', 'id', 'owner'],
      );
    });

    test('stacked statements are joined with "; "', () => {
      const template = templateOf('SELECT * FROM notes WHERE id = 1; DROP TABLE notes', dialect);
      assert.equal(template.text, 'SELECT * FROM notes WHERE id = $1; DROP TABLE notes');
      assert.notEqual(template.text, templateOf('SELECT * FROM notes WHERE id = 1', dialect).text);
    });

    test('the template is frozen', () => {
      const template: Template = templateOf('SELECT * FROM notes WHERE id = 1', dialect);
      assert.ok(Object.isFrozen(template));
      assert.ok(Object.isFrozen(template.slots));
      assert.ok(Object.isFrozen(template.slots[0]));
      assert.ok(Object.isFrozen(template.slots[0]!.source));
    });

    for (const bad of [
      'SELEC 1',
      'SELECT * FROM',
      "SELECT * FROM notes WHERE title = 'unterminated",
      'SELECT * FROM notes WHERE (id = 1',
      '',
      '  -- nothing but a comment',
      'SELECT 1\0; DROP TABLE notes',
    ]) {
      test(`does not parse: ${JSON.stringify(bad)}`, () => {
        assert.throws(
          () => templateOf(bad, dialect),
          (error: unknown) => {
            assert.ok(isSqlUnparsable(error));
            assert.equal(error.code, 'ERR_LEASH_SQL_UNPARSABLE');
            assert.equal(error.dialect, dialect);
            assert.equal(error.notReady, false);
            assert.match(error.message, dialect === 'postgres' ? /^PostgreSQL / : /^SQLite /);
            assert.ok(error.reason.length > 0);
            assert.ok(error.message.includes(error.reason));
            return true;
          },
        );
      });
    }
  });
}

describe('templateOf: dialects differ', () => {
  test('PostgreSQL-only syntax does not parse as SQLite', () => {
    for (const sql of ["SELECT 'x'::text", "SELECT * FROM notes WHERE title ILIKE 'x'"]) {
      assert.doesNotThrow(() => templateOf(sql, 'postgres'));
      assert.throws(() => templateOf(sql, 'sqlite'), { code: 'ERR_LEASH_SQL_UNPARSABLE' });
    }
  });
  test('SQLite-only syntax does not parse as PostgreSQL', () => {
    for (const sql of [
      'SELECT * FROM [notes]',
      'PRAGMA journal_mode = WAL',
      'INSERT OR REPLACE INTO kv (k) VALUES (1)',
    ]) {
      assert.doesNotThrow(() => templateOf(sql, 'sqlite'));
      assert.throws(() => templateOf(sql, 'postgres'), { code: 'ERR_LEASH_SQL_UNPARSABLE' });
    }
  });
});
