/**
 * @module
 * SQLite statement → template.
 *
 * The parser is SQLite itself: every statement is prepared (compiled, never run) on a private,
 * read-only, empty in-memory connection of the `node:sqlite` build, so what parses is exactly
 * SQLite's dialect. The connection has no schema, so errors that depend on one (`no such table`,
 * `no such column`, `no such function` for the application's own functions, …) mean the statement
 * parsed; every other error means it did not (fail closed). Two statements stop parsing at their
 * missing table (`ALTER TABLE t ADD COLUMN …`, `CREATE TRIGGER … ON t …`): those are parsed again
 * on a throwaway connection with a stand-in table (or view). `PRAGMA` statements are checked by
 * their (tiny) grammar here instead, because SQLite runs some pragmas while compiling them. The
 * driver instrumentation should skip these connections: `isValidatorConnection(db)`.
 *
 * The template is made of the statement's tokens, cut exactly as SQLite's tokenizer cuts them
 * (`tokenize.c`): comments and whitespace dropped, keywords upper-cased, identifiers unquoted
 * when they need no quotes (`"notes"`, `[notes]`, `` `notes` `` → notes; others → `"…"`), `==` → `=`
 * and `!=` → `<>` (one token each for SQLite), every string, number and blob literal and every
 * parameter lifted into a slot, a `-` before a number folded into it where it can only be a sign,
 * and `IN (…)` lists of literals and parameters collapsed into one list slot. Tokens are joined by
 * one space (none inside `( )`, before `,`, around `.`, or between a name and its `(`), so the text
 * reads back as the same tokens: two statements share a template only if they have the same tokens
 * up to literal values and list lengths, i.e. the same parse.
 *
 * Literals that are syntax stay: `NULL`, `TRUE`/`FALSE` (identifiers to SQLite), and the integer
 * of a positional `ORDER BY 2` / `GROUP BY 2`. Statements are split where `sqlite3_complete` splits
 * them (a trigger body's `;` does not end the statement).
 */
import { DatabaseSync } from 'node:sqlite';
import { type SlotInfo, type Template, unparsable } from './template-common.ts';
import {
  type ColumnSyntax,
  findColumns,
  numberSlots,
  type Occurrence,
  type Out,
} from './template-tokens.ts';

type Source = SlotInfo['source'];
type ValueSource = Exclude<Source, { kind: 'list' }>;

// ---------------------------------------------------------------------------------------------
// Tokens

type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'blob' | 'param' | 'op' | 'semi';

interface Token {
  readonly kind: TokenKind;
  /** The token as written (operators: canonical, `==` → `=`, `!=` → `<>`). */
  readonly text: string;
  readonly start: number;
  readonly end: number;
  /** Words: upper-cased, to compare with keywords. */
  readonly upper: string;
}

/** Every SQLite keyword (https://sqlite.org/lang_keywords.html). */
const KEYWORDS = new Set(
  (
    'ABORT ACTION ADD AFTER ALL ALTER ALWAYS ANALYZE AND AS ASC ATTACH AUTOINCREMENT BEFORE BEGIN ' +
    'BETWEEN BY CASCADE CASE CAST CHECK COLLATE COLUMN COMMIT CONFLICT CONSTRAINT CREATE CROSS ' +
    'CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP DATABASE DEFAULT DEFERRABLE DEFERRED ' +
    'DELETE DESC DETACH DISTINCT DO DROP EACH ELSE END ESCAPE EXCEPT EXCLUDE EXCLUSIVE EXISTS ' +
    'EXPLAIN FAIL FILTER FIRST FOLLOWING FOR FOREIGN FROM FULL GENERATED GLOB GROUP GROUPS HAVING ' +
    'IF IGNORE IMMEDIATE IN INDEX INDEXED INITIALLY INNER INSERT INSTEAD INTERSECT INTO IS ISNULL ' +
    'JOIN KEY LAST LEFT LIKE LIMIT MATCH MATERIALIZED NATURAL NO NOT NOTHING NOTNULL NULL NULLS OF ' +
    'OFFSET ON OR ORDER OTHERS OUTER OVER PARTITION PLAN PRAGMA PRECEDING PRIMARY QUERY RAISE ' +
    'RANGE RECURSIVE REFERENCES REGEXP REINDEX RELEASE RENAME REPLACE RESTRICT RETURNING RIGHT ' +
    'ROLLBACK ROW ROWS SAVEPOINT SELECT SET TABLE TEMP TEMPORARY THEN TIES TO TRANSACTION TRIGGER ' +
    'UNBOUNDED UNION UNIQUE UPDATE USING VACUUM VALUES VIEW VIRTUAL WHEN WHERE WINDOW WITH WITHOUT'
  ).split(' '),
);

/** Keywords the grammar also takes as a name (`%fallback ID`, JOIN_KW, LIKE_KW, CTIME_KW, …). */
const NAME_KEYWORDS = new Set(
  (
    'ABORT ACTION AFTER ANALYZE ASC ATTACH BEFORE BEGIN BY CASCADE CAST COLUMN CONFLICT DATABASE ' +
    'DEFERRED DESC DETACH DO EACH END EXCLUSIVE EXPLAIN FAIL FOR IGNORE IMMEDIATE INITIALLY ' +
    'INSTEAD LIKE GLOB REGEXP MATCH NO PLAN QUERY KEY OF OFFSET PRAGMA RAISE RECURSIVE RELEASE ' +
    'REPLACE RESTRICT ROW ROWS ROLLBACK SAVEPOINT TEMP TRIGGER VACUUM VIEW VIRTUAL WITH WITHOUT ' +
    'NULLS FIRST LAST CURRENT FOLLOWING PARTITION PRECEDING RANGE UNBOUNDED EXCLUDE GROUPS OTHERS ' +
    'TIES GENERATED ALWAYS MATERIALIZED REINDEX RENAME CURRENT_DATE CURRENT_TIME ' +
    'CURRENT_TIMESTAMP IF CROSS FULL INNER LEFT NATURAL OUTER RIGHT'
  ).split(' '),
);

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
/** SQLite's IdChar: letters, digits, `_`, `$`, and every non-ASCII character. */
const isIdChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 36 || c >= 0x80;

const SINGLE = new Set(['(', ')', '+', '*', '%', ',', '&', '~']);

/** Splits `sql` as SQLite's tokenizer does; throws on a token SQLite does not recognise. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  const push = (kind: TokenKind, end: number, text = sql.slice(i, end)): void => {
    tokens.push({ kind, text, start: i, end, upper: kind === 'word' ? text.toUpperCase() : '' });
    i = end;
  };
  const illegal = (end: number): never => {
    throw unparsable('sqlite', `unrecognized token: "${sql.slice(i, Math.max(end, i + 1))}"`);
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    const next = i + 1 < n ? sql.charCodeAt(i + 1) : 0;
    if (isSpace(c)) {
      i++;
      continue;
    }
    const ch = sql[i]!;
    if (SINGLE.has(ch)) {
      push('op', i + 1);
      continue;
    }
    switch (ch) {
      case '-':
        if (next === 45 /* - */) {
          const eol = sql.indexOf('\n', i + 2);
          i = eol < 0 ? n : eol + 1;
        } else if (next === 62 /* > */) {
          push('op', sql.charCodeAt(i + 2) === 62 ? i + 3 : i + 2);
        } else {
          push('op', i + 1);
        }
        continue;
      case ';':
        push('semi', i + 1);
        continue;
      case '/':
        if (next === 42 /* * */) {
          const close = sql.indexOf('*/', i + 2);
          i = close < 0 ? n : close + 2;
        } else {
          push('op', i + 1);
        }
        continue;
      case '=':
        push('op', next === 61 ? i + 2 : i + 1, '=');
        continue;
      case '<':
        if (next === 62 /* > */) push('op', i + 2, '<>');
        else push('op', next === 61 || next === 60 ? i + 2 : i + 1);
        continue;
      case '>':
        push('op', next === 61 || next === 62 ? i + 2 : i + 1);
        continue;
      case '!':
        if (next !== 61) illegal(i + 1);
        push('op', i + 2, '<>');
        continue;
      case '|':
        push('op', next === 124 ? i + 2 : i + 1);
        continue;
      case "'":
      case '"':
      case '`': {
        const delim = c;
        let j = i + 1;
        for (; j < n; j++) {
          if (sql.charCodeAt(j) === delim) {
            if (sql.charCodeAt(j + 1) === delim) j++;
            else break;
          }
        }
        if (j >= n) illegal(n);
        push(ch === "'" ? 'string' : 'quoted', j + 1);
        continue;
      }
      case '[': {
        const close = sql.indexOf(']', i + 1);
        if (close < 0) illegal(n);
        push('quoted', close + 1);
        continue;
      }
      case '?': {
        let j = i + 1;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        push('param', j);
        continue;
      }
      case '$':
      case '@':
      case '#':
      case ':': {
        // Named parameters, with Tcl's `::` namespaces and `(…)` array suffixes.
        let j = i + 1;
        let names = 0;
        for (; j < n; j++) {
          const d = sql.charCodeAt(j);
          if (isIdChar(d)) {
            names++;
          } else if (d === 40 /* ( */ && names > 0) {
            let k = j + 1;
            while (k < n && !isSpace(sql.charCodeAt(k)) && sql.charCodeAt(k) !== 41) k++;
            if (sql.charCodeAt(k) !== 41) illegal(k);
            j = k + 1;
            break;
          } else if (d === 58 /* : */ && sql.charCodeAt(j + 1) === 58) {
            j++;
          } else {
            break;
          }
        }
        if (names === 0) illegal(j);
        push('param', j);
        continue;
      }
    }
    if (isDigit(c) || (c === 46 /* . */ && isDigit(next))) {
      push('number', scanNumber(sql, i, illegal));
      continue;
    }
    if (c === 46) {
      push('op', i + 1);
      continue;
    }
    if ((c === 120 || c === 88) /* x X */ && next === 39 /* ' */) {
      let j = i + 2;
      while (j < n && isHex(sql.charCodeAt(j))) j++;
      if (sql.charCodeAt(j) !== 39 || (j - i) % 2 === 1) illegal(j + 1);
      push('blob', j + 1);
      continue;
    }
    if (isIdChar(c) && !isDigit(c) && c !== 36) {
      let j = i + 1;
      while (j < n && isIdChar(sql.charCodeAt(j))) j++;
      push('word', j);
      continue;
    }
    illegal(i + 1);
  }
  return tokens;
}

function scanNumber(sql: string, start: number, illegal: (end: number) => never): number {
  const n = sql.length;
  const digitsFrom = (from: number, digit: (c: number) => boolean): number => {
    let j = from;
    // `_` separates digits (SQLite ≥ 3.46); SQLite itself rejects a misplaced one.
    while (j < n && (digit(sql.charCodeAt(j)) || sql.charCodeAt(j) === 95)) j++;
    return j;
  };
  let j: number;
  const x = sql.charCodeAt(start + 1);
  if (sql[start] === '0' && (x === 120 || x === 88) && isHex(sql.charCodeAt(start + 2))) {
    j = digitsFrom(start + 3, isHex);
  } else {
    j = digitsFrom(start, isDigit);
    if (sql.charCodeAt(j) === 46) j = digitsFrom(j + 1, isDigit);
    const e = sql.charCodeAt(j);
    const sign = sql.charCodeAt(j + 1);
    if (
      (e === 101 || e === 69) &&
      (isDigit(sign) || ((sign === 43 || sign === 45) && isDigit(sql.charCodeAt(j + 2))))
    ) {
      j = digitsFrom(j + 2, isDigit);
    }
  }
  if (j < n && isIdChar(sql.charCodeAt(j))) {
    let k = j;
    while (k < n && isIdChar(sql.charCodeAt(k))) k++;
    illegal(k);
  }
  return j;
}

// ---------------------------------------------------------------------------------------------
// Statements: where sqlite3_complete() ends one

// Token classes and states of sqlite3_complete's state machine (complete.c).
// (Class 1, whitespace, never occurs: comments and whitespace are not tokens here.)
const tkSEMI = 0;
const tkOTHER = 2;
const tkEXPLAIN = 3;
const tkCREATE = 4;
const tkTEMP = 5;
const tkTRIGGER = 6;
const tkEND = 7;
const TRANS: readonly (readonly number[])[] = [
  /* 0 INVALID */ [1, 0, 2, 3, 4, 2, 2, 2],
  /* 1   START */ [1, 1, 2, 3, 4, 2, 2, 2],
  /* 2  NORMAL */ [1, 2, 2, 2, 2, 2, 2, 2],
  /* 3 EXPLAIN */ [1, 3, 3, 2, 4, 2, 2, 2],
  /* 4  CREATE */ [1, 4, 2, 2, 2, 4, 5, 2],
  /* 5 TRIGGER */ [6, 5, 5, 5, 5, 5, 5, 5],
  /* 6    SEMI */ [6, 6, 5, 5, 5, 5, 5, 7],
  /* 7     END */ [1, 7, 5, 5, 5, 5, 5, 5],
];

function completeClass(token: Token): number {
  if (token.kind === 'semi') return tkSEMI;
  if (token.kind !== 'word') return tkOTHER;
  switch (token.upper) {
    case 'EXPLAIN':
      return tkEXPLAIN;
    case 'CREATE':
      return tkCREATE;
    case 'TEMP':
    case 'TEMPORARY':
      return tkTEMP;
    case 'TRIGGER':
      return tkTRIGGER;
    case 'END':
      return tkEND;
    default:
      return tkOTHER;
  }
}

/** The statements of `tokens`, each without its final `;`; empty statements are dropped. */
export function splitStatements(tokens: readonly Token[]): Token[][] {
  const statements: Token[][] = [];
  let current: Token[] = [];
  let state = 0;
  for (const token of tokens) {
    state = TRANS[state]![completeClass(token)]!;
    if (token.kind === 'semi' && state === 1) {
      if (current.length > 0) statements.push(current);
      current = [];
    } else {
      current.push(token);
    }
  }
  if (state === 5 || state === 6) throw unparsable('sqlite', 'incomplete input (a trigger body)');
  if (current.length > 0) statements.push(current);
  return statements;
}

// ---------------------------------------------------------------------------------------------
// Validation: SQLite's own parser

// Captured before anything (leash's own driver instrumentation included) can wrap it.
const prepareOnce = DatabaseSync.prototype.prepare;
let scratch: DatabaseSync | undefined;
const validators = new WeakSet<object>();

/** Whether `db` is the private connection this module prepares statements on to check them. */
export function isValidatorConnection(db: object): boolean {
  return validators.has(db);
}

/** Errors that need the application's schema (or functions, modules, collations): it parsed. */
const NEEDS_SCHEMA =
  /^(?:no such (?:table|view|column|function|collation sequence|module|index|trigger|savepoint|window)\b|unknown database\b|ambiguous column name\b|table \S+ has no column named\b|table \S+ has \d+ columns but\b|\d+(?:st|nd|rd|th) ON CONFLICT clause does not match\b|ON CONFLICT clause does not match\b)/;

function validate(sql: string, tokens: readonly Token[]): void {
  const first = tokens[0]!;
  const last = tokens.at(-1)!;
  const text = sql.slice(first.start, last.end);
  if (isPragma(tokens)) {
    checkPragma(tokens);
    return;
  }
  if (scratch === undefined) {
    scratch = new DatabaseSync(':memory:', { readOnly: true, allowExtension: false });
    validators.add(scratch);
  }
  let prepared: { readonly sourceSQL: string };
  try {
    prepared = prepareOnce.call(scratch, text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!NEEDS_SCHEMA.test(message)) throw unparsable('sqlite', message, { cause: error });
    const missing = /^no such table: (.+)$/.exec(message)?.[1];
    if (missing !== undefined && checksEarly(tokens)) recheck(text, tokens, missing);
    return;
  }
  if (prepared.sourceSQL !== text) {
    throw unparsable('sqlite', 'SQLite ends the statement elsewhere than its tokens say');
  }
}

/** Statements SQLite stops parsing when their table is missing: `ALTER TABLE t ADD …`, triggers. */
function checksEarly(tokens: readonly Token[]): boolean {
  let i = tokens[0]?.upper === 'EXPLAIN' ? 1 : 0;
  if (tokens[i]?.upper === 'QUERY' && tokens[i + 1]?.upper === 'PLAN') i += 2;
  if (tokens[i]?.upper === 'ALTER') return true;
  if (tokens[i]?.upper !== 'CREATE') return false;
  if (tokens[i + 1]?.upper === 'TEMP' || tokens[i + 1]?.upper === 'TEMPORARY') i++;
  return tokens[i + 1]?.upper === 'TRIGGER';
}

/**
 * Parses `text` again on a throwaway connection that has a stand-in for the missing table (a view
 * for an INSTEAD OF trigger), so the rest of the statement is checked too.
 */
function recheck(text: string, tokens: readonly Token[], missing: string): void {
  const dot = missing.indexOf('.');
  const schema = dot > 0 ? missing.slice(0, dot).toLowerCase() : 'main';
  if (schema !== 'main' && schema !== 'temp') return; // an attached database: cannot stand in
  const name = `"${(dot > 0 ? missing.slice(dot + 1) : missing).replaceAll('"', '""')}"`;
  const view = tokens.some(
    (token, i) => token.upper === 'INSTEAD' && tokens[i + 1]?.upper === 'OF',
  );
  const temp = schema === 'temp' ? 'TEMP ' : '';
  const db = new DatabaseSync(':memory:', { allowExtension: false });
  validators.add(db);
  try {
    db.exec(
      view ? `CREATE ${temp}VIEW ${name} AS SELECT 1 AS x` : `CREATE ${temp}TABLE ${name}(x)`,
    );
    prepareOnce.call(db, text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!NEEDS_SCHEMA.test(message)) throw unparsable('sqlite', message, { cause: error });
  } finally {
    db.close();
  }
}

function isPragma(tokens: readonly Token[]): boolean {
  let i = 0;
  if (tokens[i]?.upper === 'EXPLAIN') {
    i++;
    if (tokens[i]?.upper === 'QUERY' && tokens[i + 1]?.upper === 'PLAN') i += 2;
  }
  return tokens[i]?.upper === 'PRAGMA';
}

const isName = (token: Token | undefined): boolean =>
  token !== undefined &&
  (token.kind === 'quoted' ||
    token.kind === 'string' ||
    (token.kind === 'word' && (!KEYWORDS.has(token.upper) || NAME_KEYWORDS.has(token.upper))));

/** `PRAGMA [schema.]name [= value | (value)]`, value: a signed number, a name, ON, DELETE, DEFAULT. */
function checkPragma(tokens: readonly Token[]): void {
  let i = tokens.findIndex((token) => token.upper === 'PRAGMA') + 1;
  const bad = (): never => {
    throw unparsable('sqlite', `near "${tokens[i]?.text ?? 'end'}": syntax error (PRAGMA)`);
  };
  if (!isName(tokens[i])) bad();
  i++;
  if (tokens[i]?.text === '.') {
    i++;
    if (!isName(tokens[i])) bad();
    i++;
  }
  if (i === tokens.length) return;
  const paren = tokens[i]?.text === '(';
  if (!paren && tokens[i]?.text !== '=') bad();
  i++;
  if (tokens[i]?.text === '+' || tokens[i]?.text === '-') {
    i++;
    if (tokens[i]?.kind !== 'number') bad();
    i++;
  } else if (
    tokens[i]?.kind === 'number' ||
    isName(tokens[i]) ||
    ['ON', 'DELETE', 'DEFAULT'].includes(tokens[i]?.upper ?? '')
  ) {
    i++;
  } else {
    bad();
  }
  if (paren) {
    if (tokens[i]?.text !== ')') bad();
    i++;
  }
  if (i !== tokens.length) bad();
}

// ---------------------------------------------------------------------------------------------
// Template

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function unquote(token: Token): string {
  const inner = token.text.slice(1, -1);
  switch (token.text[0]) {
    case '"':
      return inner.replaceAll('""', '"');
    case '`':
      return inner.replaceAll('``', '`');
    default:
      return inner; // [name]
  }
}

function quoteName(name: string): string {
  return PLAIN_NAME.test(name) && !KEYWORDS.has(name.toUpperCase())
    ? name
    : `"${name.replaceAll('"', '""')}"`;
}

function literalOf(token: Token, negative: boolean): ValueSource {
  switch (token.kind) {
    case 'string':
      return { kind: 'literal', value: token.text.slice(1, -1).replaceAll("''", "'") };
    default:
      return { kind: 'literal', value: (negative ? '-' : '') + token.text };
  }
}

const isLiteral = (token: Token | undefined): boolean =>
  token !== undefined &&
  (token.kind === 'string' || token.kind === 'number' || token.kind === 'blob');

/** After these a `-` can only be a sign (they cannot end an operand). */
const SIGN_AFTER_KEYWORDS = new Set([
  'SELECT',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'THEN',
  'ELSE',
  'WHEN',
  'CASE',
  'LIMIT',
  'HAVING',
  'DEFAULT',
  'IS',
  'BETWEEN',
  'ON',
  'SET',
  'ESCAPE',
  'DISTINCT',
  'ALL',
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
  'GROUPS',
  'RETURNING',
  'VALUES',
  'SET',
  'ON',
]);
/** What may follow a positional `ORDER BY 2` term. */
const AFTER_BY_TERM = new Set([
  'ASC',
  'DESC',
  'NULLS',
  'COLLATE',
  'LIMIT',
  'HAVING',
  'WINDOW',
  'ORDER',
  'UNION',
  'EXCEPT',
  'INTERSECT',
  'ROWS',
  'RANGE',
  'GROUPS',
]);

const COLUMN_SYNTAX: ColumnSyntax = {
  comparisonOps: new Set(['=', '<>', '<', '<=', '>', '>=']),
  comparisonWords: new Set(['LIKE', 'GLOB', 'REGEXP', 'MATCH', 'IS', 'IN']),
  tighter: new Set(['+', '-', '*', '/', '%', '||', '&', '|', '<<', '>>', '~', '->', '->>']),
};
/** Keywords written with their `(` attached, like a function call. */
const CALL_LIKE: ReadonlySet<string> = new Set(['CAST', 'RAISE']);

class StatementBuilder {
  readonly out: Out[] = [];
  private maxIndex = 0;
  private readonly names = new Map<string, number>();
  /** SQLite parameter index → occurrence, for parameters used more than once. */
  private readonly byIndex = new Map<number, number>();
  private readonly byDepth: boolean[] = [false];
  private readonly tokens: readonly Token[];
  private readonly occurrences: Occurrence[];

  constructor(tokens: readonly Token[], occurrences: Occurrence[]) {
    this.tokens = tokens;
    this.occurrences = occurrences;
  }

  private paramSource(token: Token): ValueSource & { kind: 'param' } {
    const text = token.text;
    let index: number;
    if (text === '?') {
      index = ++this.maxIndex;
    } else if (text[0] === '?') {
      index = Number.parseInt(text.slice(1), 10);
      if (index > this.maxIndex) this.maxIndex = index;
    } else {
      const known = this.names.get(text);
      if (known === undefined) {
        index = ++this.maxIndex;
        this.names.set(text, index);
      } else {
        index = known;
      }
    }
    return text === '?'
      ? { kind: 'param', index: index - 1 }
      : { kind: 'param', index: index - 1, name: text };
  }

  private slot(source: Source, list?: true): void {
    let occurrence: number;
    if (!list && source.kind === 'param' && this.byIndex.has(source.index)) {
      occurrence = this.byIndex.get(source.index)!;
    } else {
      this.occurrences.push(list ? { source, list } : { source });
      occurrence = this.occurrences.length - 1;
      if (!list && source.kind === 'param') this.byIndex.set(source.index, occurrence);
    }
    this.out.push({ text: '', cls: 'slot', occurrence });
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
      item.kind === 'param' ? this.paramSource(item) : literalOf(item, negative[k]!),
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
      (next.kind === 'word' && AFTER_BY_TERM.has(next.upper))
    );
  }

  build(): void {
    const tokens = this.tokens;
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i]!;
      const next = tokens[i + 1];
      switch (token.kind) {
        case 'word': {
          const keyword = KEYWORDS.has(token.upper);
          if (keyword && token.upper === 'IN') {
            const used = this.inList(i);
            if (used > 0) {
              i += used - 1;
              continue;
            }
          }
          if (keyword) {
            const last = this.out.at(-1)?.text;
            if (
              token.upper === 'BY' &&
              (last === 'ORDER' || last === 'GROUP' || last === 'PARTITION')
            ) {
              this.byDepth[this.byDepth.length - 1] = true;
            } else if (END_BY.has(token.upper)) {
              this.byDepth[this.byDepth.length - 1] = false;
            }
            this.out.push({ text: token.upper, cls: 'keyword' });
          } else {
            this.out.push({ text: token.text, cls: 'name', name: token.text });
          }
          continue;
        }
        case 'quoted': {
          const name = unquote(token);
          this.out.push({ text: quoteName(name), cls: 'name', name });
          continue;
        }
        case 'param':
          this.slot(this.paramSource(token));
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
          if (this.byDepth.length > 1) this.byDepth.pop();
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
    findColumns(this.out, this.occurrences, COLUMN_SYNTAX);
  }
}

export function sqliteTemplate(sql: string): Template {
  const tokens = tokenize(sql);
  const statements = splitStatements(tokens);
  if (statements.length === 0) throw unparsable('sqlite', 'no statement');
  for (const statement of statements) validate(sql, statement);

  const occurrences: Occurrence[] = [];
  const outs = statements.map((statement) => {
    const builder = new StatementBuilder(statement, occurrences);
    builder.build();
    return builder.out;
  });

  return numberSlots(outs, occurrences, CALL_LIKE);
}
