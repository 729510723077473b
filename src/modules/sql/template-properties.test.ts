import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { fc } from '../../../test/support/fast-check.ts';
import { prepareSqlParsers, SQL_DIALECTS, type SqlDialect, templateOf } from './template.ts';

before(() => prepareSqlParsers());

/** Any text, with the characters that matter to SQL more often than by chance. */
const text = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom(
        "'",
        "''",
        '--',
        ';',
        '/*',
        '*/',
        '\\',
        '"',
        '\n',
        '$',
        '?',
        ':1',
        '[',
        ']',
        ' OR 1=1',
      ),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    ),
    maxLength: 40,
  })
  .filter((s) => !s.includes('\0'));

/** A string literal of `s`; MySQL also reads backslash escapes in one. */
const quoteIn =
  (dialect: SqlDialect) =>
  (s: string): string =>
    `'${(dialect === 'mysql' ? s.replaceAll('\\', '\\\\') : s).replaceAll("'", "''")}'`;

/** Pasted between quotes, `value` stays one string literal (a quote, doubled or escaped). */
const ONE_LITERAL: Record<SqlDialect, RegExp> = {
  // In PostgreSQL, string constants separated by whitespace with a newline are one constant
  // ('a'\n'b' is 'ab'), so a quote, such whitespace and a quote also stay one literal.
  postgres: /^(?:[^']|''|'[ \t\f\r]*\n\s*')*$/,
  sqlite: /^(?:[^']|'')*$/,
  mysql: /^(?:[^'\\]|''|\\[\s\S])*$/,
  'mysql-nbe': /^(?:[^']|'')*$/,
};

for (const dialect of SQL_DIALECTS) {
  const placeholder = dialect === 'postgres' ? '$1' : '?';
  const quote = quoteIn(dialect);
  describe(`template properties (${dialect})`, () => {
    test('a quoted value never changes the template, and is the slot’s value', () => {
      const base = templateOf(
        `SELECT * FROM notes WHERE title = 'x' AND owner = ${placeholder}`,
        dialect,
      );
      fc.assert(
        fc.property(text, (value) => {
          const template = templateOf(
            `SELECT * FROM notes WHERE title = ${quote(value)} AND owner = ${placeholder}`,
            dialect,
          );
          assert.equal(template.text, base.text);
          assert.deepEqual(template.slots[0]!.source, { kind: 'literal', value });
        }),
        { numRuns: 300 },
      );
    });

    test('an IN list of any length and values is one list slot', () => {
      const base = templateOf('SELECT * FROM notes WHERE id IN (1) AND owner = 2', dialect);
      fc.assert(
        fc.property(
          fc.array(fc.oneof(fc.integer({ min: 0 }), text), { minLength: 1, maxLength: 30 }),
          (values) => {
            const list = values.map((v) => (typeof v === 'number' ? String(v) : quote(v)));
            const template = templateOf(
              `SELECT * FROM notes WHERE id IN (${list.join(', ')}) AND owner = 2`,
              dialect,
            );
            assert.equal(template.text, base.text);
            const source = template.slots[0]!.source;
            assert.equal(source.kind, 'list');
            assert.deepEqual(
              source.kind === 'list'
                ? source.items.map((item) => item.kind === 'literal' && item.value)
                : [],
              values.map(String),
            );
          },
        ),
        { numRuns: 200 },
      );
    });

    test('a value pasted in unquoted changes the template, or does not parse', () => {
      const base = templateOf("SELECT * FROM notes WHERE title = 'x' AND owner = 1", dialect).text;
      fc.assert(
        fc.property(text, (value) => {
          // What the value does to the statement when pasted between quotes without escaping.
          fc.pre(value.includes("'"));
          let pasted: string | undefined;
          try {
            pasted = templateOf(
              `SELECT * FROM notes WHERE title = '${value}' AND owner = 1`,
              dialect,
            ).text;
          } catch {
            return; // unparsable: never allowed
          }
          // Same template only if the quotes in it pair up into one string literal again.
          if (pasted === base) assert.match(value, ONE_LITERAL[dialect]);
        }),
        { numRuns: 300 },
      );
    });
  });
}

/**
 * Statements whose template, parsed as a statement, must give the same template again (not
 * triggers: SQLite refuses parameters in a trigger body).
 */
const CORPUS: Record<SqlDialect, readonly string[]> = {
  postgres: [
    "SELECT * FROM notes WHERE id = 1 AND owner = $1 AND tag IN (1, 2, 'x') ORDER BY 2 LIMIT 10 OFFSET 5",
    'INSERT INTO kv (k, v) VALUES ($2, $1) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v RETURNING k',
    'UPDATE t SET (a, b) = ($1, 2), c = 3 WHERE id = $3 OR id = $3',
    "SELECT data->>'a', CAST(x AS numeric(10, 2)) FROM t WHERE d > now() - interval '1 day'",
    'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c',
    "SELECT * FROM notes WHERE title = 'x'; DROP TABLE notes",
    'SELECT "naïve" FROM "Notes" WHERE "é" = $1 AND b NOT BETWEEN 1 AND 2',
  ],
  sqlite: [
    "SELECT * FROM notes WHERE id = 1 AND owner = ? AND tag IN (1, 2, 'x') ORDER BY 2 LIMIT 10 OFFSET 5",
    'INSERT INTO kv (k, v) VALUES (?2, ?1) ON CONFLICT (k) DO UPDATE SET v = excluded.v RETURNING k',
    'UPDATE t SET a = :a, b = -2 WHERE id = @id OR id = @id',
    "SELECT data ->> '$.a', [select], `a b` FROM t WHERE a == x'00' AND b != -1.5e3",
    'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5) SELECT x FROM c',
    "SELECT * FROM notes WHERE title = 'x'; DROP TABLE notes",
    'SELECT * FROM t LIMIT -1 OFFSET ?',
  ],
  'mysql-nbe': [
    "SELECT * FROM `notes` WHERE `id` = 1 AND owner = ? AND tag IN (1, 2, 'x\\') ORDER BY 2 LIMIT 10, 5",
    "INSERT INTO `kv` (`k`, `v`) VALUES (?, 'it''s') ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)",
    'SELECT "a\\" FROM t WHERE a = NULL',
  ],
  mysql: [
    "SELECT * FROM `notes` WHERE `id` = 1 AND owner = ? AND tag IN (1, 2, 'x') ORDER BY 2 LIMIT 10, 5",
    "INSERT INTO `kv` (`k`, `v`) VALUES (?, 'it\\'s') ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)",
    'UPDATE t SET a = NULL, b = -2, c = TRUE WHERE id = ? AND d IS NOT NULL',
    'SELECT `select`, `a b`, "dq", @v, @@session.sql_mode FROM t WHERE a = X\'00\' AND b <=> 0x1F',
    'SELECT /*+ MAX_EXECUTION_TIME(1000) */ x FROM c WHERE x < 5 FOR UPDATE',
    "SELECT * FROM notes WHERE title = 'x'; DROP TABLE notes",
    'SELECT `naïve` FROM `Notes` WHERE `é` = ? AND b NOT BETWEEN 1 AND 2',
  ],
};

for (const dialect of SQL_DIALECTS) {
  test(`a template is its own template (${dialect})`, () => {
    for (const sql of CORPUS[dialect]) {
      const template = templateOf(sql, dialect);
      // MySQL has no numbered placeholders (`$1` is a name to it): slots are `?` in order.
      const again = templateOf(
        dialect.startsWith('mysql') ? template.text.replace(/\$\d+/g, '?') : template.text,
        dialect,
      );
      assert.equal(again.text, template.text, sql);
      assert.equal(again.slots.length, template.slots.length, sql);
    }
  });
}
