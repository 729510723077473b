/**
 * @module
 * MySQL / MariaDB statement → template.
 *
 * There is no MySQL parser to run in process, and the one parser on npm (node-sql-parser) refuses
 * statements that Sequelize and mysql2 send (`SAVEPOINT`, `SET NAMES`, `SHOW INDEX`, …) and reads
 * an executable comment, whose content the server runs, as a comment. So the template is made of
 * the statement's tokens, cut as the server's lexer (`sql_lex.cc`) cuts them in the default SQL
 * mode, and the server's own parser stays the grammar: two statements share a template only if
 * they have the same tokens up to literal values and `IN (…)` list lengths, so the server parses
 * them alike. What the lexer does not say for sure is refused (`ERR_LEASH_SQL_UNPARSABLE`), never
 * guessed:
 *
 * - `/*! … *\/` and `/*M! … *\/`, executable comments: the server runs their content (or not,
 *   depending on its version), so they are refused;
 * - a comment containing `/*` (the servers disagree on nesting), an unterminated string, quoted
 *   name or comment, a number run into a name (`1abc` is a name to MySQL), a number right after a
 *   `.` (a name there), `@` not followed by a variable name;
 * - a NUL character (refused before this module, for every dialect).
 *
 * Lexical rules kept: `'…'` strings with backslash escapes and `''` doubling, adjacent strings,
 * `` `…` `` names with ``` `` ``` doubling, `#` comments, `-- ` comments (dash-dash followed by a
 * space or control character; `1--1` is a subtraction), `/* … *\/` comments, `/*+ … *\/` optimizer
 * hints (kept verbatim in the template: MySQL acts on them), `X'…'`, `0x…`, `B'…'`, `0b…`,
 * `N'…'` literals, `?` placeholders (mysql2's `execute` sends them as a prepared statement's
 * parameters; `query` formats values in client-side, and the formatted text is what is decided).
 *
 * `"…"` is a string in the default mode but a quoted name under `ANSI_QUOTES`, so it is kept in
 * the template as written (never a slot): `SELECT "name"` and `SELECT "password"` differ either
 * way. Backslash escapes are on in the default mode (dialect `mysql`); a connection in
 * `NO_BACKSLASH_ESCAPES` mode is the dialect `mysql-nbe`, where a backslash is itself: the driver
 * picks it from what mysql2 knows of the connection's mode, and both give one structure one template.
 *
 * Keywords that are reserved words are upper-cased; other words (names, functions, non-reserved
 * keywords) stay as written, because table names are case-sensitive on most servers. `NULL`,
 * `TRUE` and `FALSE` are values (mysql2 formats a `null` or boolean parameter as one), except after
 * `IS`, `IS NOT`, `NOT` and `DEFAULT`, where they are syntax. Statements are separated by `;`
 * (mysql2's `multipleStatements`); a final `;` is dropped.
 */
import { type SlotInfo, type SqlDialect, type Template, unparsable } from './template-common.ts';
import {
  type ColumnSyntax,
  findColumns,
  numberSlots,
  type Occurrence,
  type Out,
} from './template-tokens.ts';

type Source = SlotInfo['source'];
type MysqlDialect = Extract<SqlDialect, 'mysql' | 'mysql-nbe'>;
type ValueSource = Exclude<Source, { kind: 'list' }>;

// ---------------------------------------------------------------------------------------------
// Tokens

type TokenKind =
  | 'word'
  | 'quoted'
  | 'string'
  | 'dquoted'
  | 'number'
  | 'blob'
  | 'param'
  | 'variable'
  | 'hint'
  | 'op'
  | 'semi';

interface Token {
  readonly kind: TokenKind;
  /** The token as written (`!=` is written `<>`). */
  readonly text: string;
  /** Words: upper-cased. Strings: the value. Quoted names: the name. */
  readonly value: string;
}

/**
 * Reserved words of MySQL 8 and MariaDB 10/11 (they cannot be bare names), plus the verbs of
 * transaction and session statements ORMs send, upper-cased in the template.
 */
const KEYWORDS = new Set(
  (
    'ACCESSIBLE ADD ALL ALTER ANALYZE AND AS ASC ASENSITIVE BEFORE BETWEEN BIGINT BINARY BLOB ' +
    'BOTH BY CALL CASCADE CASE CHANGE CHAR CHARACTER CHECK COLLATE COLUMN CONDITION CONSTRAINT ' +
    'CONTINUE CONVERT CREATE CROSS CUBE CUME_DIST CURRENT_DATE CURRENT_ROLE CURRENT_TIME ' +
    'CURRENT_TIMESTAMP CURRENT_USER CURSOR DATABASE DATABASES DAY_HOUR DAY_MICROSECOND ' +
    'DAY_MINUTE DAY_SECOND DEC DECIMAL DECLARE DEFAULT DELAYED DELETE DELETE_DOMAIN_ID ' +
    'DENSE_RANK DESC DESCRIBE DETERMINISTIC DISTINCT DISTINCTROW DIV DO_DOMAIN_IDS DOUBLE DROP ' +
    'DUAL EACH ELSE ELSEIF EMPTY ENCLOSED ESCAPED EXCEPT EXISTS EXIT EXPLAIN FALSE FETCH ' +
    'FIRST_VALUE FLOAT FLOAT4 FLOAT8 FOR FORCE FOREIGN FROM FULLTEXT FUNCTION GENERAL GENERATED ' +
    'GET GRANT GROUP GROUPING GROUPS HAVING HIGH_PRIORITY HOUR_MICROSECOND HOUR_MINUTE ' +
    'HOUR_SECOND IF IGNORE IGNORE_DOMAIN_IDS IGNORE_SERVER_IDS IN INDEX INFILE INNER INOUT ' +
    'INSENSITIVE INSERT INT INT1 INT2 INT3 INT4 INT8 INTEGER INTERSECT INTERVAL INTO ' +
    'IO_AFTER_GTIDS IO_BEFORE_GTIDS IS ITERATE JOIN JSON_TABLE KEY KEYS KILL LAG LAST_VALUE ' +
    'LATERAL LEAD LEADING LEAVE LEFT LIKE LIMIT LINEAR LINES LOAD LOCALTIME LOCALTIMESTAMP LOCK ' +
    'LONG LONGBLOB LONGTEXT LOOP LOW_PRIORITY MASTER_BIND MASTER_HEARTBEAT_PERIOD ' +
    'MASTER_SSL_VERIFY_SERVER_CERT MATCH MAXVALUE MEDIUMBLOB MEDIUMINT MEDIUMTEXT MIDDLEINT ' +
    'MINUTE_MICROSECOND MINUTE_SECOND MOD MODIFIES NATURAL NOT NO_WRITE_TO_BINLOG NTH_VALUE ' +
    'NTILE NULL NUMERIC OF OFFSET ON OPTIMIZE OPTIMIZER_COSTS OPTION OPTIONALLY OR ORDER OUT ' +
    'OUTER OUTFILE OVER PAGE_CHECKSUM PARSE_VCOL_EXPR PARTITION PERCENT_RANK POSITION PRECISION ' +
    'PRIMARY PROCEDURE PURGE RANGE RANK READ READS READ_WRITE REAL RECURSIVE REF_SYSTEM_ID ' +
    'REFERENCES REGEXP RELEASE RENAME REPEAT REPLACE REQUIRE RESIGNAL RESTRICT RETURN RETURNING ' +
    'REVOKE RIGHT RLIKE ROW ROWS ROW_NUMBER SCHEMA SCHEMAS SECOND_MICROSECOND SELECT SENSITIVE ' +
    'SEPARATOR SET SHOW SIGNAL SLOW SMALLINT SPATIAL SPECIFIC SQL SQLEXCEPTION SQLSTATE ' +
    'SQLWARNING SQL_BIG_RESULT SQL_CALC_FOUND_ROWS SQL_SMALL_RESULT SSL STARTING STATS_AUTO_RECALC ' +
    'STATS_PERSISTENT STATS_SAMPLE_PAGES STORED STRAIGHT_JOIN SYSTEM TABLE TERMINATED THEN ' +
    'TINYBLOB TINYINT TINYTEXT TO TRAILING TRIGGER TRUE UNDO UNION UNIQUE UNLOCK UNSIGNED UPDATE ' +
    'USAGE USE USING UTC_DATE UTC_TIME UTC_TIMESTAMP VALUES VARBINARY VARCHAR VARCHARACTER ' +
    'VARYING VIRTUAL WHEN WHERE WHILE WINDOW WITH WRITE XOR YEAR_MONTH ZEROFILL ' +
    // Not reserved, but the verbs of the statements ORMs send around transactions and sessions.
    'BEGIN COMMIT ROLLBACK START TRANSACTION SAVEPOINT WORK NAMES SESSION GLOBAL ISOLATION LEVEL ' +
    'COMMITTED UNCOMMITTED REPEATABLE SERIALIZABLE DUPLICATE'
  ).split(' '),
);

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
/** MySQL's identifier characters: letters, digits, `_`, `$`, and every non-ASCII character. */
const isIdChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 36 || c >= 0x80;
/** What ends `--` as a comment start: a space or a control character (or the end). */
const endsDashDash = (c: number): boolean => Number.isNaN(c) || c <= 32 || c === 127;

/** Multi-character operators, longest first. */
const OPERATORS = ['<=>', '->>', '<=', '>=', '<>', '!=', '<<', '>>', '&&', '||', ':=', '->'];
const SINGLE = new Set('()+-*/%=<>!~^&|,.:{}'.split(''));

/** The value of a `'…'` string: backslash escapes (unless the mode is off) as the server reads them. */
function stringValue(body: string, quote: string, backslashEscapes: boolean): string {
  if (!backslashEscapes) return body.replaceAll(quote + quote, quote);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === quote && body[i + 1] === quote) {
      out += quote;
      i++;
    } else if (ch === '\\' && i + 1 < body.length) {
      const next = body[++i]!;
      switch (next) {
        case '0':
          out += '\0';
          break;
        case 'b':
          out += '\b';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'Z':
          out += '\x1a';
          break;
        // LIKE's wildcards keep their backslash.
        case '%':
        case '_':
          out += `\\${next}`;
          break;
        default:
          out += next;
      }
    } else {
      out += ch;
    }
  }
  return out;
}

/**
 * Splits `sql` as MySQL's lexer does in the default SQL mode (or, `backslashEscapes` false, under
 * `NO_BACKSLASH_ESCAPES`); throws where it is unsure.
 */
export function tokenize(sql: string, dialect: MysqlDialect = 'mysql'): Token[] {
  const backslashEscapes = dialect === 'mysql';
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  /** Where the last token ended: a `.` right after a name qualifies it. */
  let lastEnd = -1;
  const refuse = (reason: string): never => {
    throw unparsable(dialect, `${reason} at offset ${i}`);
  };
  const push = (kind: TokenKind, end: number, text = sql.slice(i, end), value = text): void => {
    tokens.push({ kind, text, value });
    i = end;
    lastEnd = end;
  };
  /** The end of a quoted token starting at `i` (after the closing quote). */
  const quotedEnd = (quote: number, backslash: boolean): number => {
    for (let j = i + 1; j < n; j++) {
      const c = sql.charCodeAt(j);
      if (backslash && c === 92 /* \ */) j++;
      else if (c === quote) {
        if (sql.charCodeAt(j + 1) === quote) j++;
        else return j + 1;
      }
    }
    return refuse('unterminated quoted text');
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    const next = sql.charCodeAt(i + 1);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const ch = sql[i]!;
    // Comments.
    if (ch === '#' || (ch === '-' && next === 45 && endsDashDash(sql.charCodeAt(i + 2)))) {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    if (ch === '/' && next === 42 /* * */) {
      const close = sql.indexOf('*/', i + 2);
      if (close < 0) refuse('unterminated comment');
      const bodyStart = i + 2;
      // `/*!…*/` (MySQL and MariaDB), `/*M!…*/` (MariaDB; either case, to be safe).
      if (sql[bodyStart] === '!' || /^[mM]!/.test(sql.slice(bodyStart, bodyStart + 2))) {
        refuse('an executable comment (/*! … */), whose content the server runs');
      }
      if (sql.slice(bodyStart, close).includes('/*')) refuse('a nested comment');
      if (sql[bodyStart] === '+') {
        push('hint', close + 2);
        continue;
      }
      i = close + 2;
      continue;
    }
    // Quoted text.
    if (ch === "'") {
      const end = quotedEnd(39, backslashEscapes);
      push('string', end, undefined, stringValue(sql.slice(i + 1, end - 1), "'", backslashEscapes));
      continue;
    }
    if (ch === '"') {
      push('dquoted', quotedEnd(34, backslashEscapes));
      continue;
    }
    if (ch === '`') {
      const end = quotedEnd(96, false);
      push('quoted', end, undefined, sql.slice(i + 1, end - 1).replaceAll('``', '`'));
      continue;
    }
    // Prefixed literals: X'…', B'…', N'…'.
    if (next === 39 && /[xXbBnN]/.test(ch)) {
      if (ch === 'n' || ch === 'N') {
        i++;
        const end = quotedEnd(39, backslashEscapes);
        i--;
        push(
          'string',
          end,
          undefined,
          stringValue(sql.slice(i + 2, end - 1), "'", backslashEscapes),
        );
        continue;
      }
      const close = sql.indexOf("'", i + 2);
      if (close < 0) refuse('unterminated literal');
      const digits = sql.slice(i + 2, close);
      const valid = ch === 'x' || ch === 'X' ? /^[0-9a-fA-F]*$/ : /^[01]*$/;
      if (!valid.test(digits)) refuse('a malformed hexadecimal or bit literal');
      push('blob', close + 1);
      continue;
    }
    if (ch === '?') {
      push('param', i + 1);
      continue;
    }
    if (ch === ';') {
      push('semi', i + 1);
      continue;
    }
    if (ch === '@') {
      let j = i + 1;
      if (sql.charCodeAt(j) === 64) j++;
      const start = j;
      while (j < n && (isIdChar(sql.charCodeAt(j)) || sql.charCodeAt(j) === 46)) j++;
      if (j === start) refuse('a variable without a plain name');
      push('variable', j);
      continue;
    }
    // Numbers (a number run into name characters is a name to MySQL: refused).
    if (isDigit(c) || (c === 46 /* . */ && isDigit(next))) {
      const last = tokens.at(-1);
      const qualifies =
        c === 46 && lastEnd === i && (last?.kind === 'word' || last?.kind === 'quoted');
      if (last?.text === '.' || qualifies) refuse('a number after "." (a name to MySQL)');
      const end = scanNumber(sql, i);
      if (end < n && isIdChar(sql.charCodeAt(end))) refuse('a number run into a name');
      push(/^0[xb]/.test(sql.slice(i, i + 2)) ? 'blob' : 'number', end);
      continue;
    }
    if (isIdChar(c)) {
      let j = i + 1;
      while (j < n && isIdChar(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j);
      push('word', j, word, word.toUpperCase());
      continue;
    }
    const operator = OPERATORS.find((op) => sql.startsWith(op, i));
    if (operator !== undefined) {
      push('op', i + operator.length, operator === '!=' ? '<>' : operator);
      continue;
    }
    if (SINGLE.has(ch)) {
      push('op', i + 1);
      continue;
    }
    refuse(`an unexpected character ${JSON.stringify(ch)}`);
  }
  return tokens;
}

function scanNumber(sql: string, start: number): number {
  const n = sql.length;
  const x = sql.charCodeAt(start + 1);
  if (sql[start] === '0' && (x === 120 || x === 98) /* x b */) {
    let j = start + 2;
    const digit = x === 120 ? isHex : (c: number) => c === 48 || c === 49;
    while (j < n && digit(sql.charCodeAt(j))) j++;
    // `0x` alone, or `0xZ…`, is a name to MySQL: the caller refuses what runs into name characters.
    return j > start + 2 ? j : start + 1;
  }
  let j = start;
  while (j < n && isDigit(sql.charCodeAt(j))) j++;
  if (sql.charCodeAt(j) === 46) {
    j++;
    while (j < n && isDigit(sql.charCodeAt(j))) j++;
  }
  const e = sql.charCodeAt(j);
  const sign = sql.charCodeAt(j + 1);
  if (
    (e === 101 || e === 69) &&
    (isDigit(sign) || ((sign === 43 || sign === 45) && isDigit(sql.charCodeAt(j + 2))))
  ) {
    j += 2;
    while (j < n && isDigit(sql.charCodeAt(j))) j++;
  }
  return j;
}

// ---------------------------------------------------------------------------------------------
// Template

const COLUMN_SYNTAX: ColumnSyntax = {
  comparisonOps: new Set(['=', '<>', '<', '<=', '>', '>=', '<=>']),
  comparisonWords: new Set(['LIKE', 'REGEXP', 'RLIKE', 'IS', 'IN']),
  tighter: new Set([
    '+',
    '-',
    '*',
    '/',
    '%',
    '&',
    '|',
    '^',
    '<<',
    '>>',
    '~',
    '->',
    '->>',
    'DIV',
    'MOD',
  ]),
};
/** Keywords written with their `(` attached, like a function call. */
const CALL_LIKE: ReadonlySet<string> = new Set([
  'CAST',
  'CONVERT',
  'CHAR',
  'VALUES',
  'IF',
  'INTERVAL',
  'LEFT',
  'RIGHT',
  'REPLACE',
  'POSITION',
  'MOD',
]);

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function quoteName(name: string): string {
  return PLAIN_NAME.test(name) && !KEYWORDS.has(name.toUpperCase())
    ? name
    : `\`${name.replaceAll('`', '``')}\``;
}

/** After these a `-` can only be a sign (they cannot end an operand). */
const SIGN_AFTER_KEYWORDS = new Set([
  'SELECT',
  'WHERE',
  'AND',
  'OR',
  'XOR',
  'NOT',
  'THEN',
  'ELSE',
  'WHEN',
  'CASE',
  'LIMIT',
  'OFFSET',
  'HAVING',
  'DEFAULT',
  'IS',
  'BETWEEN',
  'ON',
  'SET',
  'ESCAPE',
  'DISTINCT',
  'ALL',
  'VALUES',
  'INTERVAL',
  'RETURN',
]);

/** Keywords that end an `ORDER BY` / `GROUP BY` / `PARTITION BY` list. */
const END_BY = new Set([
  'LIMIT',
  'HAVING',
  'WINDOW',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'SELECT',
  'FROM',
  'WHERE',
  'ROWS',
  'RANGE',
  'RETURNING',
  'VALUES',
  'SET',
  'ON',
  'FOR',
  'INTO',
  'LOCK',
]);
/** What may follow a positional `ORDER BY 2` term. */
const AFTER_BY_TERM = new Set([
  'ASC',
  'DESC',
  'LIMIT',
  'HAVING',
  'WINDOW',
  'ORDER',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'ROWS',
  'RANGE',
  'WITH',
  'FOR',
  'LOCK',
  'INTO',
]);
/** Before these, `NULL`, `TRUE` and `FALSE` are syntax, not values. */
const KEEP_CONSTANT_AFTER = new Set(['IS', 'NOT', 'DEFAULT']);

function literalOf(token: Token, negative: boolean): ValueSource {
  switch (token.kind) {
    case 'string':
      return { kind: 'literal', value: token.value };
    case 'word':
      // NULL, TRUE, FALSE
      return {
        kind: 'literal',
        value: token.value === 'NULL' ? 'NULL' : token.value.toLowerCase(),
      };
    default:
      return { kind: 'literal', value: (negative ? '-' : '') + token.text };
  }
}

const CONSTANTS = new Set(['NULL', 'TRUE', 'FALSE']);
const isLiteral = (token: Token | undefined): boolean =>
  token !== undefined &&
  (token.kind === 'string' ||
    token.kind === 'number' ||
    token.kind === 'blob' ||
    (token.kind === 'word' && CONSTANTS.has(token.value)));

class StatementBuilder {
  readonly out: Out[] = [];
  private readonly byDepth: boolean[] = [false];
  private readonly tokens: readonly Token[];
  private readonly occurrences: Occurrence[];
  private readonly params: { next: number };
  private readonly dialect: MysqlDialect;

  constructor(
    tokens: readonly Token[],
    occurrences: Occurrence[],
    params: { next: number },
    dialect: MysqlDialect,
  ) {
    this.dialect = dialect;
    this.tokens = tokens;
    this.occurrences = occurrences;
    this.params = params;
  }

  private paramSource(): ValueSource {
    return { kind: 'param', index: this.params.next++ };
  }

  private slot(source: Source, list?: true): void {
    this.occurrences.push(list ? { source, list } : { source });
    this.out.push({ text: '', cls: 'slot', occurrence: this.occurrences.length - 1 });
  }

  /** Whether a `-` here can only be a sign. */
  private signPosition(): boolean {
    const last = this.out.at(-1);
    if (last === undefined) return true;
    switch (last.cls) {
      case 'op':
      case '(':
      case ',':
        return true;
      case 'keyword':
        return SIGN_AFTER_KEYWORDS.has(last.text);
      default:
        return false;
    }
  }

  /** Whether a `NULL`/`TRUE`/`FALSE` here is a value. */
  private constantIsValue(): boolean {
    const last = this.out.at(-1);
    return !(last?.cls === 'keyword' && KEEP_CONSTANT_AFTER.has(last.text));
  }

  /** `IN (v, v, …)` with only literals and parameters: one list slot. Returns the tokens used. */
  private inList(at: number): number {
    const tokens = this.tokens;
    if (tokens[at + 1]?.text !== '(') return 0;
    const items: Token[] = [];
    const negative: boolean[] = [];
    let i = at + 2;
    for (;;) {
      let sign = false;
      if (tokens[i]?.text === '-' && tokens[i + 1]?.kind === 'number') {
        sign = true;
        i++;
      }
      const item = tokens[i];
      if (item === undefined || !(isLiteral(item) || item.kind === 'param')) return 0;
      items.push(item);
      negative.push(sign);
      i++;
      if (tokens[i]?.text === ',') {
        i++;
        continue;
      }
      if (tokens[i]?.text === ')') break;
      return 0;
    }
    const sources = items.map((item, k) =>
      item.kind === 'param' ? this.paramSource() : literalOf(item, negative[k]!),
    );
    this.out.push({ text: 'IN', cls: 'keyword' }, { text: '(', cls: '(' });
    this.slot({ kind: 'list', items: sources }, true);
    this.out.push({ text: ')', cls: ')' });
    return i + 1 - at;
  }

  /** A bare integer that is a positional `ORDER BY` / `GROUP BY` term. */
  private positional(token: Token, next: Token | undefined): boolean {
    if (token.kind !== 'number' || !this.byDepth.at(-1)) return false;
    const last = this.out.at(-1);
    if (last?.text !== 'BY' && last?.cls !== ',') return false;
    return (
      next === undefined ||
      next.text === ',' ||
      next.text === ')' ||
      (next.kind === 'word' && AFTER_BY_TERM.has(next.value))
    );
  }

  build(): void {
    const tokens = this.tokens;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      const next = tokens[i + 1];
      switch (token.kind) {
        case 'word': {
          const word = token.value;
          if (word === 'IN') {
            const used = this.inList(i);
            if (used > 0) {
              i += used - 1;
              continue;
            }
          }
          if (CONSTANTS.has(word) && this.constantIsValue()) {
            this.slot(literalOf(token, false));
            continue;
          }
          if (KEYWORDS.has(word)) {
            const last = this.out.at(-1)?.text;
            if (word === 'BY' && (last === 'ORDER' || last === 'GROUP' || last === 'PARTITION')) {
              this.byDepth[this.byDepth.length - 1] = true;
            } else if (END_BY.has(word)) {
              this.byDepth[this.byDepth.length - 1] = false;
            }
            this.out.push({ text: word, cls: 'keyword' });
          } else {
            this.out.push({ text: quoteName(token.text), cls: 'name', name: token.text });
          }
          continue;
        }
        case 'quoted':
          this.out.push({ text: quoteName(token.value), cls: 'name', name: token.value });
          continue;
        case 'dquoted':
        case 'variable':
        case 'hint':
          // Kept as written: see the module's comment.
          this.out.push({ text: token.text, cls: 'literal' });
          continue;
        case 'param':
          this.slot(this.paramSource());
          continue;
        case 'string':
        case 'number':
        case 'blob':
          if (this.positional(token, next)) {
            this.out.push({ text: token.text, cls: 'literal' });
          } else {
            this.slot(literalOf(token, false));
          }
          continue;
        case 'semi':
          this.out.push({ text: ';', cls: ';' });
          continue;
        case 'op':
          break;
      }
      // Operators and punctuation.
      if (token.text === '-' && next?.kind === 'number' && this.signPosition()) {
        this.slot(literalOf(next, true));
        i++;
        continue;
      }
      switch (token.text) {
        case '(':
          this.byDepth.push(false);
          this.out.push({ text: '(', cls: '(' });
          break;
        case ')':
          if (this.byDepth.length <= 1) throw unparsable(this.dialect, 'an unbalanced ")"');
          this.byDepth.pop();
          this.out.push({ text: ')', cls: ')' });
          break;
        case ',':
          this.out.push({ text: ',', cls: ',' });
          break;
        case '.':
          this.out.push({ text: '.', cls: '.' });
          break;
        default:
          this.out.push({ text: token.text, cls: 'op' });
      }
    }
    if (this.byDepth.length !== 1) throw unparsable(this.dialect, 'an unclosed "("');
    findColumns(this.out, this.occurrences, COLUMN_SYNTAX);
  }
}

/** The statements of `tokens`, each without its `;`; empty statements are dropped. */
function splitStatements(tokens: readonly Token[]): Token[][] {
  const statements: Token[][] = [[]];
  for (const token of tokens) {
    if (token.kind === 'semi') statements.push([]);
    else statements.at(-1)!.push(token);
  }
  return statements.filter((statement) => statement.length > 0);
}

/**
 * The template of a MySQL statement; `mysql-nbe` for a connection in `NO_BACKSLASH_ESCAPES` mode,
 * where a backslash in a string is itself. Both give the same template to the same structure.
 */
export function mysqlTemplate(sql: string, dialect: MysqlDialect = 'mysql'): Template {
  const statements = splitStatements(tokenize(sql, dialect));
  if (statements.length === 0) throw unparsable(dialect, 'no statement');
  const occurrences: Occurrence[] = [];
  const params = { next: 0 };
  const outs = statements.map((statement) => {
    const builder = new StatementBuilder(statement, occurrences, params, dialect);
    builder.build();
    return builder.out;
  });
  return numberSlots(outs, occurrences, CALL_LIKE);
}
