/**
 * @module
 * The command line kind. A fact is a command line as a shell reads it: `exec` and `shell: true`
 * pass the shell string itself, `spawn`/`execFile` without a shell pass `quote(argv)` (shell-quote).
 * It is split into tokens with shell-quote's `parse`, the same way for facts and rules, so that a
 * rule is a *template*, as a SQL statement with slots is:
 *
 * - words: `ping`, `-c`, `127.0.0.1` (after the shell's quote removal);
 * - operator tokens, which match only themselves and are never matched by a placeholder: `;`,
 *   `&&`, `||`, `|`, `&`, redirections, `(`, `<(`, globs (`*.txt`), comments, and every word that
 *   holds an expansion (`$X`, `${X}`, `$(…)`, `` `…` ``). A newline is a command separator, so it
 *   is read as `;`.
 * - placeholders, in rules only: `{num}` (a word of digits), `{arg}` (a plain word: letters,
 *   digits and `_ . , : @ % + = - /`, not starting with `-`, `/` or `.`, no `.`-segment), and
 *   `{path:<glob>}` (an absolute path matched by a path glob, `{path:/tmp/export-*.tgz}`, with no
 *   `{}[]*?` that a shell would expand into other words).
 *
 * So `ping -c 1 {arg}` allows `ping -c 1 127.0.0.2` but not `ping -c 1 127.0.0.1; cat /etc/passwd`,
 * `ping -c 1 $(id)`, `` ping -c 1 `id` ``, `ping -c 1 a && b`, `ping -c 1 a | nc x`,
 * `ping -c 1 a > /tmp/x`, `ping -c 1 a b` or `ping -c 1 -f`: each changes the template.
 *
 * Keys are the tokens re-quoted in one canonical way, so equal token lists give equal keys. Words
 * that are not plain are single-quoted, so a fact containing the text `{num}` is stored as
 * `'{num}'` and never becomes a placeholder; a placeholder is recognised only as a whole unquoted
 * word. A fact shell-quote cannot parse is stored as a comment, `# unparsed: "<fact>"`, which
 * matches nothing but itself (as a command, a comment does nothing).
 *
 * Collapse: siblings with the same *shape* (same number of tokens, same operators, same option
 * words and same command names at the same positions) generalise when there are at least
 * `threshold` of them, position by position: digits → `{num}`; absolute paths → `{path:<glob>}`
 * when the path kind collapses them into one glob in a directory where it allows wildcards;
 * plain words → `{arg}`. A position that cannot generalise splits the group by its value. Words
 * that name a program never generalise: the first word, a word after `;`, `&&`, `|`, `(`, an
 * assignment or a reserved word, the word after `find -exec`, an interpreter's script or `-e`
 * code (`node worker.js {num}` is fine, `node {arg}` is not); nor does any argument of a command
 * that runs another command (`sudo`, `env`, `sh`, `xargs`, `ssh` ...).
 */

import { parse as shellParse } from 'shell-quote';
import { BoundedCache, KEY_CACHE_LIMIT } from '../bounded-cache.ts';
import type { Collapse, Kind, SimplifyOptions } from '../kind.ts';
import {
  escapePath,
  type Glob,
  GlobSyntaxError,
  globCovers,
  globRegex,
  isPlainPath,
  literalText,
  parseGlob,
} from './glob.ts';
import { pathKind, wildcardAllowedIn } from './path.ts';

/** One token of a command line or rule. Operator tokens carry their canonical text. */
type CommandToken =
  | { readonly type: 'word'; readonly value: string }
  | { readonly type: 'op'; readonly text: string }
  | { readonly type: 'num' }
  | { readonly type: 'arg' }
  | { readonly type: 'path'; readonly source: string; readonly glob: Glob; readonly regex: RegExp };

interface Tokenized {
  readonly tokens: readonly CommandToken[];
  readonly error: string | undefined;
}

const DIGITS = /^[0-9]+$/;
const PLAIN = /^[\p{L}\p{N}_.,:@%+=/-]+$/u;
const SAFE_WORD = /^[A-Za-z0-9_.,:@%+=/-]+$/;
const SAFE_CHAR = /^[A-Za-z0-9_.,:@%+=/-]$/;
const UNPARSED = '# unparsed: ';

/**
 * Whether `{arg}` may stand for a word. Deliberately narrow: no shell or glob syntax, no option
 * (`-`), no absolute or home path (`/`, `~`: those are `{path:…}`'s job), no dot file or `..`.
 */
export function isPlainWord(word: string): boolean {
  return PLAIN.test(word) && !/^[-/]/.test(word) && !/(?:^|\/)\./.test(word);
}

/**
 * Whether `{path:…}` may stand for a word: an absolute path without `{`, `}`, `[`, `]`, `*` or `?`,
 * which a shell would expand into other or more words (`/tmp/{a,b}` is two arguments to bash).
 */
export function isPathWord(word: string): boolean {
  return word.startsWith('/') && !/[{}[\]*?]/.test(word);
}

// ---------------------------------------------------------------------------------------------
// Canonical text of tokens

/** Quotes a word so that shell-quote reads it back as the same single word. */
export function quoteWord(word: string): string {
  if (word === '') return "''";
  if (SAFE_WORD.test(word)) return word;
  // Single quotes make everything literal, `{`, `*` and `#` included; a newline would be read as
  // a separator, so such words are spelled character by character.
  if (!/['\n\r]/.test(word)) return `'${word}'`;
  return escapeChars(word, false);
}

function escapeChars(text: string, glob: boolean): string {
  let out = '';
  for (const ch of text) {
    if (SAFE_CHAR.test(ch)) out += ch;
    // shell-quote reads `\*` as a glob too, so a literal `*` or `?` must be quoted.
    else if (ch === '*' || ch === '?') out += glob ? ch : `'${ch}'`;
    else if (ch === '\n') out += "$'\\n'";
    else if (ch === '\r') out += "$'\\r'";
    else if (ch === "'") out += "\\'";
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we look for
    else if ((/\s/.test(ch) && ch !== ' ' && ch !== '\t') || /[\u0000-\u001f\u007f]/.test(ch)) {
      out += `'${ch}'`;
    } else out += `\\${ch}`;
  }
  return out;
}

/** Text of a word or glob holding expansions: `parts` alternates literal text and variable names. */
function expansionText(parts: readonly string[], glob: boolean): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i % 2 === 0) out += escapeChars(part, glob);
    else if (part !== '') out += `\${${part}}`;
    // A `$` before a non-name character (as in `$(`): `$""` keeps it apart from what follows.
    else out += i === parts.length - 2 && parts[i + 1] === '' ? '$' : '$""';
  }
  return out;
}

function tokenText(token: CommandToken): string {
  switch (token.type) {
    case 'word':
      return quoteWord(token.value);
    case 'op':
      return token.text;
    case 'num':
      return '{num}';
    case 'arg':
      return '{arg}';
    case 'path':
      return `{path:${token.source}}`;
  }
}

function joinTokens(tokens: readonly CommandToken[]): string {
  return tokens.map(tokenText).join(' ');
}

// ---------------------------------------------------------------------------------------------
// Tokenising

/** A private-use character absent from `text`, to mark placeholders and expansions. */
function sentinel(text: string, avoid: string): string | undefined {
  for (let code = 0xe000; code < 0xf8ff; code++) {
    const ch = String.fromCharCode(code);
    if (ch !== avoid && !text.includes(ch)) return ch;
  }
  return undefined;
}

const BOUNDARY = /[\s;&|()<>]/;

interface Scan {
  readonly text: string;
  readonly placeholders: CommandToken[];
  readonly errors: string[];
}

/**
 * Checks that quotes are closed (shell-quote silently drops an unclosed quote where a shell
 * refuses the whole line) and, in a rule (`mark` given), replaces each placeholder that is a whole
 * unquoted word by a sentinel word. Quotes, escapes and `${…}` are skipped as shell-quote reads
 * them, and scanning stops at a comment. Should this scanner ever disagree with shell-quote, a
 * sentinel ends up inside a larger token and the rule is rejected as malformed: a disagreement
 * fails closed.
 */
function scanLine(text: string, mark: string | undefined): Scan {
  const placeholders: CommandToken[] = [];
  const errors: string[] = [];
  let out = '';
  let last = 0;
  let wordStart = true;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (BOUNDARY.test(c)) {
      wordStart = true;
      i++;
      continue;
    }
    if (mark !== undefined && wordStart && c === '{') {
      const found = readPlaceholder(text, i);
      if (found !== undefined) {
        const whole = found.end === text.length || BOUNDARY.test(text[found.end]!);
        const source = text.slice(i, found.end);
        if ('error' in found) errors.push(found.error);
        else if (!whole) errors.push(`a placeholder must be a whole word: '${source}…'`);
        else {
          out += `${text.slice(last, i)}${mark}${placeholders.length}${mark}`;
          placeholders.push(found.token);
          last = found.end;
          i = found.end;
          continue;
        }
      }
    }
    wordStart = false;
    let next: number;
    if (c === '\\') next = i + 2;
    else if (c === "'") next = skipTo(text, i + 1, "'", false);
    else if (c === '"') next = skipTo(text, i + 1, '"', true);
    else if (c === '$' && text[i + 1] === "'") next = skipTo(text, i + 2, "'", true);
    else if (c === '$' && text[i + 1] === '{') next = skipBraces(text, i + 2);
    else if (c === '$' && /[*@#?$!-]/.test(text[i + 1] ?? '')) next = i + 2;
    else if (c === '#') break;
    else next = i + 1;
    if (next < 0) {
      errors.push(`an unclosed ${c === '$' ? text.slice(i, i + 2) : c}`);
      break;
    }
    i = next;
  }
  return { text: out + text.slice(last), placeholders, errors };
}

/** The index after the closing character, or -1 when it is missing. */
function skipTo(text: string, from: number, close: string, escapes: boolean): number {
  for (let j = from; j < text.length; j++) {
    if (escapes && text[j] === '\\') j++;
    else if (text[j] === close) return j + 1;
  }
  return -1;
}

function skipBraces(text: string, from: number): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    if (text[j] === '{' && text[j - 1] === '$') depth++;
    else if (text[j] === '}' && --depth === 0) return j + 1;
  }
  return -1;
}

type Found = { readonly end: number } & (
  | { readonly token: CommandToken }
  | { readonly error: string }
);

function readPlaceholder(text: string, at: number): Found | undefined {
  if (text.startsWith('{num}', at)) return { end: at + 5, token: { type: 'num' } };
  if (text.startsWith('{arg}', at)) return { end: at + 5, token: { type: 'arg' } };
  if (text.startsWith('{path:', at)) {
    let j = at + 6;
    while (j < text.length && text[j] !== '}') j += text[j] === '\\' ? 2 : 1;
    if (j >= text.length) return { end: text.length, error: `'{path:' needs a closing '}'` };
    const source = text.slice(at + 6, j);
    try {
      const glob = parseGlob(source);
      return { end: j + 1, token: { type: 'path', source, glob, regex: globRegex(glob) } };
    } catch (error) {
      if (error instanceof GlobSyntaxError)
        return { end: j + 1, error: `in {path:…}: ${error.message}` };
      throw error;
    }
  }
  const unknown = /^\{[a-z][a-z0-9-]*(?::[^}\s]*)?\}/.exec(text.slice(at));
  if (unknown !== null) {
    return {
      end: at + unknown[0].length,
      error: `unknown placeholder '${unknown[0]}' (placeholders are {num}, {arg} and {path:<glob>}; quote it, '${unknown[0]}', for the text itself)`,
    };
  }
  return undefined;
}

/**
 * A line of plain words (`SAFE_WORD` characters) separated by spaces and tabs: nothing a shell or
 * shell-quote reads specially (no quote, escape, `$`, operator, glob, comment, placeholder or
 * newline), so its tokens are its words. Most command lines are such, and shell-quote's parse was
 * most of the command kind's cost.
 */
const PLAIN_LINE = /^[A-Za-z0-9_.,:@%+=/ \t-]*$/;
const BLANKS = /[ \t]+/;

/** Splits a shell string into tokens; with `rule`, placeholders are recognised. */
function tokenize(input: string, rule: boolean): Tokenized {
  if (PLAIN_LINE.test(input)) {
    const tokens: CommandToken[] = [];
    for (const word of input.split(BLANKS))
      if (word !== '') tokens.push({ type: 'word', value: word });
    return { tokens, error: undefined };
  }
  // A newline or carriage return separates commands, wherever it is.
  const text = input.replace(/\r\n|\r|\n/g, ' ; ');
  const mark = sentinel(text, '');
  const dollar = mark === undefined ? undefined : sentinel(text, mark);
  if (mark === undefined || dollar === undefined)
    return { tokens: [], error: 'unreadable command line' };
  const scan = scanLine(text, rule ? mark : undefined);
  if (scan.errors.length > 0) return { tokens: [], error: scan.errors.join('; ') };
  let entries: ReturnType<typeof parseWithMarks>;
  try {
    entries = parseWithMarks(scan.text, dollar);
  } catch (error) {
    return { tokens: [], error: `the shell cannot read it: ${(error as Error).message}` };
  }
  const placeholderWord = new RegExp(`^${mark}(\\d+)${mark}$`);
  const tokens: CommandToken[] = [];
  for (const entry of entries) {
    if (typeof entry === 'string') {
      const placeholder = placeholderWord.exec(entry);
      if (placeholder !== null) tokens.push(scan.placeholders[Number(placeholder[1])]!);
      else if (entry.includes(mark))
        return { tokens: [], error: 'a placeholder must be a whole word' };
      else if (entry.includes(dollar))
        tokens.push({ type: 'op', text: expansionText(entry.split(dollar), false) });
      // A command substitution, even quoted, is never data a placeholder may stand for.
      else if (entry.includes('`') || entry.includes('$('))
        tokens.push({ type: 'op', text: quoteWord(entry) });
      else tokens.push({ type: 'word', value: entry });
    } else if ('comment' in entry) {
      if (entry.comment.includes(mark))
        return { tokens: [], error: 'a placeholder inside a comment' };
      tokens.push({ type: 'op', text: `#${entry.comment}` });
    } else if (entry.op === 'glob') {
      if (entry.pattern.includes(mark))
        return { tokens: [], error: 'a placeholder must be a whole word' };
      tokens.push({ type: 'op', text: expansionText(entry.pattern.split(dollar), true) });
    } else {
      tokens.push({ type: 'op', text: entry.op });
    }
  }
  return { tokens, error: undefined };
}

/** shell-quote's parse, with every variable expansion kept in its word as `<mark>name<mark>`. */
function parseWithMarks(text: string, dollar: string) {
  return shellParse(text, (name: string) => `${dollar}${name}${dollar}`);
}

function sameTokens(a: readonly CommandToken[], b: readonly CommandToken[]): boolean {
  return (
    a.length === b.length &&
    a.every((t, i) => t.type === b[i]!.type && tokenText(t) === tokenText(b[i]!))
  );
}

// ---------------------------------------------------------------------------------------------
// Matching

function tokenCovers(outer: CommandToken, inner: CommandToken): boolean {
  switch (outer.type) {
    case 'word':
    case 'op':
      return outer.type === inner.type && tokenText(outer) === tokenText(inner);
    case 'num':
      return inner.type === 'num' || (inner.type === 'word' && DIGITS.test(inner.value));
    case 'arg':
      return (
        inner.type === 'arg' ||
        inner.type === 'num' ||
        (inner.type === 'word' && isPlainWord(inner.value))
      );
    case 'path':
      if (inner.type === 'path')
        return inner.source === outer.source || globCovers(outer.glob, inner.glob);
      return inner.type === 'word' && isPathWord(inner.value) && outer.regex.test(inner.value);
  }
}

function tokensCover(outer: readonly CommandToken[], inner: readonly CommandToken[]): boolean {
  return outer.length === inner.length && outer.every((t, i) => tokenCovers(t, inner[i]!));
}

// ---------------------------------------------------------------------------------------------
// Shapes: which positions may generalise

export const CONTROL_OPS = new Set([
  ';',
  '&&',
  '||',
  '|',
  '|&',
  '&',
  '(',
  ')',
  ';;',
  ';&',
  ';;&',
  '<(',
  '>(',
]);
export const REDIRECT_OPS = new Set([
  '>',
  '>>',
  '<',
  '>&',
  '<&',
  '<>',
  '>|',
  '&>',
  '&>>',
  '<<',
  '<<<',
  '<<-',
]);
/** Words after which the shell still expects a command name. */
export const RESERVED = new Set([
  '!',
  '{',
  '}',
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'do',
  'done',
  'while',
  'until',
  'for',
  'in',
  'case',
  'esac',
  'select',
  'function',
  'time',
  'coproc',
]);
/** Programs whose arguments name or hold another command: none of their words generalise. */
export const WRAPPERS = new Set([
  'sh',
  'bash',
  'dash',
  'zsh',
  'ksh',
  'fish',
  'csh',
  'tcsh',
  'busybox',
  'env',
  'sudo',
  'doas',
  'su',
  'runuser',
  'chroot',
  'nohup',
  'nice',
  'ionice',
  'timeout',
  'time',
  'exec',
  'command',
  'builtin',
  'eval',
  'xargs',
  'parallel',
  'setsid',
  'stdbuf',
  'unbuffer',
  'watch',
  'flock',
  'ssh',
  'strace',
  'ltrace',
]);
/** Interpreters: their first word that is not an option (the script, or the code of `-e`/`-c`) is a program. */
const INTERPRETERS = new Set([
  'node',
  'nodejs',
  'python',
  'python2',
  'python3',
  'perl',
  'ruby',
  'php',
]);
const EXEC_OPTIONS = new Set(['-exec', '-execdir', '-ok', '-okdir']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

function basename(word: string): string {
  return word.slice(word.lastIndexOf('/') + 1);
}

/**
 * For each token, whether it is free to generalise: an argument, not an operator, an option, a
 * program name, or any word of a command that runs another command. With `wrappers: false`,
 * wrapper programs are read as ordinary ones (to tell their arguments from program names).
 */
function freePositions(tokens: readonly CommandToken[], wrappers = true): boolean[] {
  const free: boolean[] = [];
  let program = true; // the shell expects a program name next
  let wrapped = false;
  let redirectTarget = false;
  let script = false; // an interpreter expects its script (or code) next
  for (const token of tokens) {
    if (token.type === 'op') {
      free.push(false);
      if (CONTROL_OPS.has(token.text)) {
        program = true;
        wrapped = script = false;
      } else if (REDIRECT_OPS.has(token.text)) redirectTarget = true;
      else if (program) program = false; // an expansion or a glob used as the program
      continue;
    }
    if (redirectTarget) {
      redirectTarget = false;
      free.push(!wrapped);
      continue;
    }
    if (program) {
      free.push(false);
      if (token.type === 'word') {
        if (ASSIGNMENT.test(token.value) || RESERVED.has(token.value)) continue;
        const name = basename(token.value);
        if (wrappers && WRAPPERS.has(name)) wrapped = true;
        if (INTERPRETERS.has(name)) script = true;
      }
      program = false;
      continue;
    }
    if (token.type === 'word' && token.value.startsWith('-')) {
      free.push(false);
      if (EXEC_OPTIONS.has(token.value)) program = true;
      continue;
    }
    if (script) {
      free.push(false);
      script = false;
      continue;
    }
    free.push(!wrapped);
  }
  return free;
}

// ---------------------------------------------------------------------------------------------
// Collapse

interface Member {
  readonly key: string;
  readonly tokens: readonly CommandToken[];
}

const paths = pathKind();

function collapseCommands(members: readonly Member[], options: SimplifyOptions): Collapse[] {
  const shapes = new Map<string, { free: boolean[]; members: Member[] }>();
  for (const member of members) {
    const free = freePositions(member.tokens);
    const shape = JSON.stringify(member.tokens.map((t, i) => (free[i] ? null : tokenText(t))));
    let group = shapes.get(shape);
    if (group === undefined) {
      group = { free, members: [] };
      shapes.set(shape, group);
    }
    group.members.push(member);
  }
  const out: Collapse[] = [];
  for (const { free, members: group } of shapes.values())
    out.push(...generalise(group, free, options));
  return out;
}

function distinctCount(members: readonly Member[]): number {
  return new Set(members.map((m) => joinTokens(m.tokens))).size;
}

function generalise(
  group: readonly Member[],
  free: readonly boolean[],
  options: SimplifyOptions,
): Collapse[] {
  if (distinctCount(group) < options.threshold) return [];
  const first = group[0]!.tokens;
  const pattern = [...first];
  const failed: number[] = [];
  for (let p = 0; p < first.length; p++) {
    if (!free[p]) continue;
    const column = group.map((m) => m.tokens[p]!);
    if (new Set(column.map(tokenText)).size === 1) continue;
    const general = generalisePosition(column, options);
    if (general === undefined) failed.push(p);
    else pattern[p] = general;
  }
  if (failed.length === 0) {
    const key = joinTokens(pattern);
    if (!pattern.some((t, i) => t !== first[i])) return [];
    return [{ pattern: key, members: group.map((m) => m.key) }];
  }
  // Positions that cannot generalise become part of the shape: try again within each value.
  const byValue = new Map<string, Member[]>();
  for (const member of group) {
    const value = JSON.stringify(failed.map((p) => tokenText(member.tokens[p]!)));
    let list = byValue.get(value);
    if (list === undefined) {
      list = [];
      byValue.set(value, list);
    }
    list.push(member);
  }
  const out: Collapse[] = [];
  for (const sub of byValue.values()) out.push(...generalise(sub, free, options));
  return out;
}

function generalisePosition(
  column: readonly CommandToken[],
  options: SimplifyOptions,
): CommandToken | undefined {
  if (column.every((t) => t.type === 'num' || (t.type === 'word' && DIGITS.test(t.value)))) {
    return { type: 'num' };
  }
  if (column.every((t) => t.type === 'path' || (t.type === 'word' && t.value.startsWith('/')))) {
    // Absolute paths generalise into a path glob or not at all: never into {arg}.
    if (column.some((t) => t.type === 'word' && !isPathWord(t.value))) return undefined;
    return generalisePaths(column, options);
  }
  if (
    column.every(
      (t) => t.type === 'arg' || t.type === 'num' || (t.type === 'word' && isPlainWord(t.value)),
    )
  ) {
    return { type: 'arg' };
  }
  return undefined;
}

/** One path glob covering every path of the column, from the path kind's own collapse rules. */
function generalisePaths(
  column: readonly CommandToken[],
  options: SimplifyOptions,
): CommandToken | undefined {
  const keys = new Set<string>();
  for (const t of column) {
    const key = t.type === 'path' ? t.source : t.type === 'word' ? escapePath(t.value) : undefined;
    // A plain path is valid without parsing it.
    if (key === undefined || (!isPlainPath(key) && paths.validate(key) !== undefined))
      return undefined;
    keys.add(key);
  }
  // A path a sibling glob already grants adds nothing (and would only make the glob wider). Only
  // a pattern covers another key, so each key is compared with the few patterns, not every key.
  const patterns = [...keys].filter((k) => paths.isPattern(k));
  const needed = [...keys].filter((k) => !patterns.some((o) => o !== k && paths.covers(o, k)));
  // The path kind may need a few rounds (files, then directories): run it to a fixed point.
  const current = new Set(needed);
  for (let round = 0; round < 32 && current.size > 1; round++) {
    let changed = false;
    for (const group of paths.collapse([...current].sort(), options)) {
      const members = group.members.filter((m) => current.has(m) && m !== group.pattern);
      if (members.length === 0 || !members.every((m) => paths.covers(group.pattern, m))) continue;
      for (const m of members) current.delete(m);
      current.add(group.pattern);
      changed = true;
    }
    if (!changed) break;
  }
  if (current.size !== 1) return undefined;
  const source = [...current][0]!;
  const glob = parseGlob(source);
  if (!glob.isPattern) return undefined;
  const regex = globRegex(glob);
  // A plain path is covered exactly when the glob matches it (as in the path kind's covers).
  const covered = (k: string) => (isPlainPath(k) ? regex.test(k) : globCovers(glob, parseGlob(k)));
  for (const k of keys) if (!covered(k)) return undefined;
  if (!wildcardAllowedIn(literalDir(glob), options)) return undefined;
  return { type: 'path', source, glob, regex };
}

/** The literal directory a glob's first wildcard sits in. */
function literalDir(glob: Glob): string {
  const names: string[] = [];
  for (const segment of glob.segments) {
    const text = literalText(segment);
    if (text === undefined) break;
    names.push(text);
  }
  return `/${names.join('/')}`;
}

// ---------------------------------------------------------------------------------------------
// The kind

export interface CommandKindOptions {
  /** The kind of the next position; `null` (the default) when a rule ends here. */
  readonly child?: (key: string) => Kind | null;
}

interface ParsedKey extends Tokenized {
  readonly isPattern: boolean;
}

interface ParsedFact {
  readonly key: string;
  readonly tokens: readonly CommandToken[] | undefined;
}

export function commandKind(options: CommandKindOptions = {}): Kind {
  const child = options.child ?? (() => null);
  const keys = new BoundedCache<string, ParsedKey>(KEY_CACHE_LIMIT);
  const facts = new Map<string, ParsedFact>();

  const parsedKey = (key: string): ParsedKey => {
    let entry = keys.get(key);
    if (entry === undefined) {
      const t = tokenize(key, true);
      entry = { ...t, isPattern: t.error === undefined && t.tokens.some(isPlaceholder) };
      keys.set(key, entry);
    }
    return entry;
  };

  // `key` and `matches` read the same fact one after the other on the hot path: cache it. Facts
  // are what the service runs, so the cache is kept small in count and size.
  const parsedFact = (fact: string): ParsedFact => {
    let entry = facts.get(fact);
    if (entry === undefined) {
      entry = readFact(fact);
      if (fact.length <= 4096) {
        if (facts.size >= 1000) facts.clear();
        facts.set(fact, entry);
      }
    }
    return entry;
  };

  return {
    name: 'command',
    key: (fact) => parsedFact(fact).key,
    matches(key, fact) {
      const f = parsedFact(fact);
      if (f.key === key) return true;
      const k = parsedKey(key);
      return k.isPattern && f.tokens !== undefined && tokensCover(k.tokens, f.tokens);
    },
    covers(outer, inner) {
      if (outer === inner) return true;
      const o = parsedKey(outer);
      const i = parsedKey(inner);
      return o.isPattern && i.error === undefined && tokensCover(o.tokens, i.tokens);
    },
    isPattern: (key) => parsedKey(key).isPattern,
    collapse(siblings, simplifyOptions) {
      const members: Member[] = [];
      for (const key of siblings) {
        const k = parsedKey(key);
        if (k.error === undefined && k.tokens.length > 0) members.push({ key, tokens: k.tokens });
      }
      return collapseCommands(members, simplifyOptions);
    },
    child,
    validate(key) {
      if (key.trim() === '') return 'an empty command line';
      const k = parsedKey(key);
      if (k.error !== undefined) return k.error;
      if (k.tokens.length === 0) return 'an empty command line';
      const free = freePositions(k.tokens, false);
      const misplaced = k.tokens.findIndex((t, i) => isPlaceholder(t) && !free[i]);
      if (misplaced >= 0) {
        return `${tokenText(k.tokens[misplaced]!)} stands for a program or script name; write it out`;
      }
      const canonical = joinTokens(k.tokens);
      if (!k.isPattern && canonical !== key) {
        // An exact rule is found by its canonical text; another spelling would never be used.
        return `not in canonical form: write ${canonical}`;
      }
      return undefined;
    },
    breadth(key, simplifyOptions) {
      const k = parsedKey(key);
      if (!k.isPattern) return undefined;
      const free = freePositions(k.tokens);
      const arguments_ = freePositions(k.tokens, false);
      for (let i = 0; i < k.tokens.length; i++) {
        const t = k.tokens[i]!;
        if (!isPlaceholder(t)) continue;
        if (!arguments_[i])
          return `${tokenText(t)} stands for any program; leash never generalises program names`;
        if (!free[i]) {
          return `${tokenText(t)} is an argument of a program that runs other commands; leash never generalises those`;
        }
        if (t.type === 'path') {
          const wide = paths.breadth(t.source, simplifyOptions);
          if (wide !== undefined) return `${tokenText(t)}: ${wide}`;
        }
      }
      return undefined;
    },
  };
}

function isPlaceholder(token: CommandToken): boolean {
  return token.type === 'num' || token.type === 'arg' || token.type === 'path';
}

function readFact(fact: string): ParsedFact {
  const t = tokenize(fact, false);
  if (t.error === undefined && t.tokens.length > 0) {
    const key = joinTokens(t.tokens);
    // The key must read back as exactly these tokens (no placeholder, no other split); should
    // quoting ever fail to round-trip, the fact is stored opaquely rather than misread.
    const back = tokenize(key, true);
    if (back.error === undefined && sameTokens(back.tokens, t.tokens))
      return { key, tokens: t.tokens };
  }
  return { key: UNPARSED + JSON.stringify(fact), tokens: undefined };
}
