import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import mysql2 from 'mysql2';
import { fc } from '../../../test/support/fast-check.ts';
import { isSqlUnparsable, type Template, templateOf } from './template.ts';

const my = (sql: string): Template => templateOf(sql, 'mysql');
const text = (sql: string): string => my(sql).text;
const unparsable = (sql: string): string => {
  try {
    my(sql);
  } catch (error) {
    assert.ok(isSqlUnparsable(error), String(error));
    assert.equal(error.dialect, 'mysql');
    assert.match(error.message, /^MySQL statement does not parse: /);
    return error.reason;
  }
  assert.fail(`parsed: ${sql}`);
};

/** The dialect of the error a statement that does not parse throws. */
const unparsableIn = (dialect: 'mysql' | 'mysql-nbe', sql: string): string => {
  try {
    templateOf(sql, dialect);
  } catch (error) {
    assert.ok(isSqlUnparsable(error));
    return error.dialect;
  }
  assert.fail(`parsed: ${sql}`);
};

/** Where an attacker's input lands in the application's statement. */
const owned = (input: string): string =>
  `SELECT * FROM notes WHERE title = '${input}' AND owner = ?`;

describe('templateOf (mysql): what ORMs and mysql2 send', () => {
  const statements: readonly (readonly [string, string])[] = [
    ['SELECT 1+1 AS result', 'SELECT $1 + $2 AS result'],
    ['SET NAMES utf8mb4', 'SET NAMES utf8mb4'],
    ["SET time_zone = '+00:00'", 'SET time_zone = $1'],
    ['START TRANSACTION', 'START TRANSACTION'],
    ['SAVEPOINT `sp-1`', 'SAVEPOINT `sp-1`'],
    ['ROLLBACK TO SAVEPOINT `sp1`', 'ROLLBACK TO SAVEPOINT sp1'],
    [
      'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;',
      'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED',
    ],
    ['SHOW INDEX FROM `users` FROM `db`', 'SHOW INDEX FROM users FROM db'],
    ['SHOW FULL COLUMNS FROM `users`;', 'SHOW FULL COLUMNS FROM users'],
    [
      'SELECT `id`, `name` FROM `users` AS `User` WHERE `User`.`id` = 5 AND `User`.`deletedAt` IS NULL LIMIT 1',
      'SELECT id, name FROM users AS User WHERE User.id = $1 AND User.deletedAt IS NULL LIMIT $2',
    ],
    ['SELECT * FROM `t` LIMIT ?, ?', 'SELECT * FROM t LIMIT $1, $2'],
    [
      "INSERT INTO `users` (`id`,`name`,`bio`) VALUES (DEFAULT,'O\\'Brien',NULL)",
      'INSERT INTO users(id, name, bio) VALUES(DEFAULT, $1, $2)',
    ],
    [
      "INSERT INTO `kv` (`k`, `v`) VALUES ('a', 1) ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)",
      'INSERT INTO kv(k, v) VALUES($1, $2) ON DUPLICATE KEY UPDATE v = VALUES(v)',
    ],
    [
      "select `notes`.* from `notes` where `owner` = 'a' and `id` in (1, 2, 3) limit 10",
      'SELECT notes.* FROM notes WHERE owner = $1 AND id IN ($2) LIMIT $3',
    ],
    [
      'CREATE TABLE IF NOT EXISTS `users` (`id` INTEGER NOT NULL auto_increment , `name` VARCHAR(255) DEFAULT NULL, PRIMARY KEY (`id`)) ENGINE=InnoDB;',
      'CREATE TABLE IF NOT EXISTS users(id INTEGER NOT NULL auto_increment, name VARCHAR ($1) DEFAULT NULL, PRIMARY KEY (id)) ENGINE = InnoDB',
    ],
    [
      "SELECT * FROM `t` WHERE `j`->>'$.a' = 'x' AND a = _utf8mb4'x' COLLATE utf8mb4_bin",
      'SELECT * FROM t WHERE j ->> $1 = $2 AND a = _utf8mb4 $3 COLLATE utf8mb4_bin',
    ],
    ["SHOW VARIABLES LIKE 'version'", 'SHOW VARIABLES LIKE $1'],
    ['SELECT GET_LOCK(?, 10)', 'SELECT GET_LOCK($1, $2)'],
    ['SELECT * FROM t WHERE a <=> ? FOR UPDATE', 'SELECT * FROM t WHERE a <=> $1 FOR UPDATE'],
    [
      "SELECT * FROM t WHERE a = X'0A' AND b = 0x0a AND c = b'01' AND d = N'é' AND e = 1.5e3",
      'SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3 AND d = $4 AND e = $5',
    ],
    ['SELECT @x := 1, @@session.sql_mode', 'SELECT @x := $1, @@session.sql_mode'],
  ];
  for (const [sql, expected] of statements) {
    test(sql, () => assert.equal(text(sql), expected));
  }

  test('mysql2’s escaping of a value is read back as that value', () => {
    const template = my(
      "SELECT * FROM t WHERE a = 'O\\'Brien' AND b = 'it''s' AND c = 'x\\\\y\\n\\0' AND d = 'a%\\_'",
    );
    assert.deepEqual(
      template.slots.map((slot) => slot.source),
      [
        { kind: 'literal', value: "O'Brien" },
        { kind: 'literal', value: "it's" },
        { kind: 'literal', value: 'x\\y\n\0' },
        { kind: 'literal', value: 'a%\\_' },
      ],
    );
  });

  test('placeholders are parameters in order; NULL, TRUE and FALSE are values, except after IS', () => {
    const template = my(
      'UPDATE t SET a = ?, b = NULL, c = TRUE WHERE id = ? AND d IS NOT NULL AND e IS TRUE',
    );
    assert.equal(
      template.text,
      'UPDATE t SET a = $1, b = $2, c = $3 WHERE id = $4 AND d IS NOT NULL AND e IS TRUE',
    );
    assert.deepEqual(template.slots, [
      { slot: '$1', source: { kind: 'param', index: 0 }, column: 'a' },
      { slot: '$2', source: { kind: 'literal', value: 'NULL' }, column: 'b' },
      { slot: '$3', source: { kind: 'literal', value: 'true' }, column: 'c' },
      { slot: '$4', source: { kind: 'param', index: 1 }, column: 'id' },
    ]);
  });

  test('slots know their columns: INSERT lists, SET, comparisons, IN, <=>', () => {
    const columns = (sql: string) => my(sql).slots.map((slot) => slot.column);
    assert.deepEqual(columns('INSERT INTO `notes` (`owner`, `title`) VALUES (?, ?), (?, ?)'), [
      'owner',
      'title',
      'owner',
      'title',
    ]);
    assert.deepEqual(columns('UPDATE t SET a = ? WHERE b IN (?, ?) AND c LIKE ? AND d <=> ?'), [
      'a',
      'b',
      'c',
      'd',
    ]);
    assert.deepEqual(columns('INSERT INTO t SET `a` = 1, `b` = ?'), ['a', 'b']);
  });

  test('query() (values formatted in) and execute() (placeholders) give one template', () => {
    assert.equal(
      text("SELECT * FROM `notes` WHERE `owner` = 'alice' AND `id` IN (1, 2) LIMIT 5"),
      text('SELECT * FROM `notes` WHERE `owner` = ? AND `id` IN (?, ?) LIMIT ?'),
    );
    assert.equal(
      text('INSERT INTO t (a, b) VALUES (NULL, -3)'),
      text('INSERT INTO t (a, b) VALUES (?, ?)'),
    );
  });
});

describe('templateOf (mysql): values as mysql2 formats them in', () => {
  /** Any text, with what matters to MySQL's lexer more often than by chance. */
  const anyText = fc.string({
    unit: fc.oneof(
      fc.constantFrom(
        "'",
        '"',
        '\\',
        '`',
        '#',
        '-- ',
        '/*',
        '*/',
        '/*!',
        ';',
        '?',
        '\0',
        '\x1a',
        '\n',
      ),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
    ),
    maxLength: 40,
  });
  const number = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }));
  const value = fc.oneof(anyText, number);
  const base = text(
    "SELECT * FROM notes WHERE title = 'x' AND owner = 1 AND id IN (1) ORDER BY id LIMIT 5",
  );
  const sql = 'SELECT * FROM notes WHERE title = ? AND owner = ? AND id IN (?) ORDER BY id LIMIT 5';

  test('mysql2’s escaping of any values never changes the template; each slot holds its value', () => {
    fc.assert(
      fc.property(
        anyText,
        number,
        fc.array(value, { minLength: 1, maxLength: 5 }),
        (a, b, list) => {
          const template = my(mysql2.format(sql, [a, b, list]));
          assert.equal(template.text, base);
          assert.deepEqual(template.slots[0]!.source, { kind: 'literal', value: a });
          const owner = template.slots[1]!.source;
          // -0 is written 0.
          assert.ok(owner.kind === 'literal' && Number(owner.value) === Number(b));
          const items = template.slots[2]!.source;
          assert.equal(items.kind === 'list' && items.items.length, list.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('templateOf (mysql-nbe): NO_BACKSLASH_ESCAPES', () => {
  const nbe = (sql: string): Template => templateOf(sql, 'mysql-nbe');

  test('a backslash is itself: what is one literal by default is an injection here', () => {
    const injected = owned("\\' OR 1=1 -- ");
    assert.equal(text(injected), text(owned('x')));
    assert.notEqual(nbe(injected).text, nbe(owned('x')).text);
    assert.deepEqual(
      nbe("SELECT 'C:\\', 'it''s'").slots.map((slot) => slot.source),
      [
        { kind: 'literal', value: 'C:\\' },
        { kind: 'literal', value: "it's" },
      ],
    );
  });

  test('one structure has one template in both modes, as mysql2 escapes for each', () => {
    // mysql2 (sql-escaper) writes a backslash in this mode as REPLACE(…, '\%', LEFT('\%', 1)).
    const sql = "SELECT * FROM t WHERE a = REPLACE('x''\\%y', '\\%', LEFT('\\%', 1)) AND b = ?";
    assert.equal(nbe(sql).text, text(sql));
    assert.equal(
      nbe("SELECT * FROM t WHERE a = 'O''Brien'").text,
      text("SELECT * FROM t WHERE a = 'O\\'Brien'"),
    );
    assert.equal(unparsableIn('mysql-nbe', "SELECT 'unterminated"), 'mysql-nbe');
  });
});

describe('templateOf (mysql): structure changes the template', () => {
  const DIFFERENT: readonly (readonly [string, string, string])[] = [
    ['tautology', owned('x'), owned("' OR '1'='1")],
    ['UNION SELECT', owned('x'), owned("' UNION SELECT password FROM users -- ")],
    ['stacked statement', owned('x'), owned("'; DROP TABLE notes; -- ")],
    ['a # comment that cuts the rest', owned('x'), owned("x'#")],
    ['a -- comment that cuts the rest', owned('x'), owned("x'-- ")],
    ['a block comment that cuts the rest', owned('x'), owned("x'/* ")],
    [
      'an extra INSERT column',
      'INSERT INTO t (a) VALUES (?)',
      'INSERT INTO t (a, admin) VALUES (?, 1)',
    ],
    ['another table', 'SELECT * FROM `notes`', 'SELECT * FROM `users`'],
    ['table name case', 'SELECT * FROM notes', 'SELECT * FROM Notes'],
    ['a double-quoted text', 'SELECT "name" FROM users', 'SELECT "password" FROM users'],
    ['ORDER BY position', 'SELECT a, b FROM t ORDER BY 1', 'SELECT a, b FROM t ORDER BY 2'],
    ['NULL against IS NULL', 'SELECT * FROM t WHERE a = NULL', 'SELECT * FROM t WHERE a IS NULL'],
    ['an optimizer hint', 'SELECT a FROM t', 'SELECT /*+ SET_VAR(sql_mode = ANSI) */ a FROM t'],
    ['a user variable', 'SELECT @a', 'SELECT @b'],
    ['a column named like a slot', 'SELECT ? FROM t', 'SELECT `$1` FROM t'],
  ];
  for (const [what, a, b] of DIFFERENT) {
    test(what, () => {
      let other: string | undefined;
      try {
        other = text(b);
      } catch (error) {
        assert.ok(isSqlUnparsable(error));
        return;
      }
      assert.notEqual(text(a), other);
    });
  }

  test('a backslash-escaped quote stays in the value, as the server reads it', () => {
    const template = my(owned("\\' OR 1=1 -- "));
    assert.equal(template.text, text(owned('x')));
    assert.deepEqual(template.slots[0]!.source, { kind: 'literal', value: "' OR 1=1 -- " });
  });

  test('1--1 is a subtraction, -- followed by a space a comment', () => {
    assert.equal(text('SELECT 1--1'), 'SELECT $1 - $2');
    assert.equal(text('SELECT 1 -- 1'), 'SELECT $1');
    assert.equal(text('SELECT 1 --\t1'), 'SELECT $1');
  });
});

describe('templateOf (mysql): what the lexer is unsure of does not parse', () => {
  const bad: readonly (readonly [string, RegExp])[] = [
    ['SELECT 1 /*! UNION SELECT password FROM users */', /executable comment/],
    ['SELECT 1 /*!50000 UNION SELECT password FROM users */', /executable comment/],
    ['SELECT 1 /*M!100100 UNION SELECT password FROM users */', /executable comment/],
    ['SELECT 1 /*m! UNION SELECT password FROM users */', /executable comment/],
    ['SELECT 1 /* a /* nested */ comment */', /nested comment/],
    ['SELECT 1 /* unterminated', /unterminated comment/],
    ["SELECT 'unterminated", /unterminated/],
    ["SELECT 'ends in a backslash\\'", /unterminated/],
    ['SELECT `unterminated', /unterminated/],
    ['SELECT 1abc FROM t', /run into a name/],
    ['SELECT t.1e5 FROM t', /after "\."/],
    ['SELECT 0X1F', /run into a name/],
    ["SELECT X'0G'", /hexadecimal/],
    ['SELECT @', /variable/],
    ['SELECT (1', /unclosed/],
    ['SELECT 1)', /unbalanced/],
    ['', /no statement/],
    [';; -- nothing', /no statement/],
    ['SELECT \\ 1', /unexpected character/],
  ];
  for (const [sql, reason] of bad) {
    test(JSON.stringify(sql), () => assert.match(unparsable(sql), reason));
  }
});
