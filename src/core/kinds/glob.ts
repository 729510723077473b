/**
 * @module
 * leash's path globs: absolute POSIX paths whose segments may use `*` (within one segment: `*`,
 * `*.png`, `img-*`) and `**` (a whole segment: any depth). Nothing else is special: no `?`, `[...]`
 * or `{a,b}`, so that a reviewer reads exactly what is allowed and lint can compare two globs.
 * A `\` escapes the next character, which is how a file literally named `*` is stored.
 *
 * Wildcards never match a name that starts with `.` unless the pattern segment does: `/data/*`
 * does not grant `/data/.env`.
 */

/** One parsed segment: `**`, or a sequence of literal text and `*` wildcards. */
export type Segment =
  | { readonly kind: 'globstar' }
  | { readonly kind: 'part'; readonly parts: readonly string[] };
// `parts` alternates literal text and wildcards: ['img-', WILDCARD, '.png']. Literal text is stored
// unescaped, so it can be `*` itself (a file named `*`, written `\*`): the wildcard is a marker no
// text can equal (a path cannot hold a NUL).

export interface Glob {
  readonly source: string;
  readonly segments: readonly Segment[];
  readonly isPattern: boolean;
}

const UNSUPPORTED = new Set(['?', '[', ']', '{', '}']);

const HAS_SPECIAL = /[\\*?[\]{}]/;
const SPECIALS = /[\\*?[\]{}]/g;

export function escapePath(path: string): string {
  // Called on every path a service touches: most have nothing to escape, and then no copy.
  return HAS_SPECIAL.test(path) ? path.replace(SPECIALS, '\\$&') : path;
}

export class GlobSyntaxError extends Error {
  readonly source: string;
  constructor(source: string, reason: string) {
    super(`${JSON.stringify(source)}: ${reason}`);
    this.source = source;
    this.name = 'GlobSyntaxError';
  }
}

/** The wildcard in a segment's `parts`. */
export const WILDCARD = '\u0000*';

export function parseGlob(source: string): Glob {
  if (!source.startsWith('/'))
    throw new GlobSyntaxError(source, 'a path must be absolute (start with /)');
  if (source === '/') return { source, segments: [], isPattern: false };
  if (source.endsWith('/')) throw new GlobSyntaxError(source, 'a path must not end with /');
  if (source.includes('\u0000')) throw new GlobSyntaxError(source, 'a path cannot hold a NUL');
  if (!PLAIN_UNSAFE.test(source))
    return { source, segments: plainSegments(source), isPattern: false };
  const segments: Segment[] = [];
  let isPattern = false;
  for (const raw of splitSegments(source.slice(1), source)) {
    if (raw === '') throw new GlobSyntaxError(source, 'empty path segment (//)');
    if (raw === '**') {
      segments.push({ kind: 'globstar' });
      isPattern = true;
      continue;
    }
    const parts: string[] = [];
    let text = '';
    for (let i = 0; i < raw.length; i++) {
      const ch = raw[i]!;
      if (ch === '\\') {
        const next = raw[i + 1];
        if (next === undefined) throw new GlobSyntaxError(source, 'a \\ must escape a character');
        text += next;
        i++;
      } else if (ch === '*') {
        if (raw[i + 1] === '*') {
          throw new GlobSyntaxError(source, `'**' must be a whole segment, not part of '${raw}'`);
        }
        if (text) parts.push(text);
        text = '';
        parts.push(WILDCARD);
        isPattern = true;
      } else if (UNSUPPORTED.has(ch)) {
        throw new GlobSyntaxError(
          source,
          `'${ch}' is not supported (leash globs have only * and **; write \\${ch} for the character itself)`,
        );
      } else {
        text += ch;
      }
    }
    if (text) parts.push(text);
    if (parts.length === 1 && (parts[0] === '.' || parts[0] === '..')) {
      throw new GlobSyntaxError(
        source,
        `'${parts[0]}' segments are not allowed; write the resolved path`,
      );
    }
    segments.push({ kind: 'part', parts });
  }
  return { source, segments, isPattern };
}

// Most keys are plain paths (no escape, no wildcard): split them without a character loop, which
// made most of simplify's garbage on large policies. Anything unusual takes the full parser.
const PLAIN_UNSAFE = /[\\*?[\]{}]|\/\/|\/\.\.?(?:\/|$)/;

/**
 * Whether `source` is a plain path: valid, not `/`, with nothing to escape, no wildcard, no empty,
 * `.` or `..` segment. Its segments are its `/`-separated names, and its key is itself
 * (`escapePath` leaves it as it is), so callers may read it as a string without parsing it.
 */
export function isPlainPath(source: string): boolean {
  return (
    source.length > 1 &&
    source.charCodeAt(0) === 47 &&
    source.charCodeAt(source.length - 1) !== 47 &&
    !PLAIN_UNSAFE.test(source)
  );
}

function plainSegments(source: string): Segment[] {
  const names = source.slice(1).split('/');
  const out: Segment[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) out[i] = { kind: 'part', parts: [names[i]!] };
  return out;
}

/** Splits on unescaped `/`. */
function splitSegments(body: string, source: string): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '\\') {
      if (i + 1 >= body.length) throw new GlobSyntaxError(source, 'a \\ must escape a character');
      current += ch + body[i + 1];
      i++;
    } else if (ch === '/') {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

export function segmentSource(segment: Segment): string {
  if (segment.kind === 'globstar') return '**';
  return segment.parts.map((p) => (p === WILDCARD ? '*' : escapePath(p))).join('');
}

export function globSource(segments: readonly Segment[]): string {
  return segments.length === 0 ? '/' : `/${segments.map(segmentSource).join('/')}`;
}

export function literalSegment(text: string): Segment {
  return { kind: 'part', parts: text === '' ? [] : [text] };
}

export function isLiteralSegment(
  segment: Segment,
): segment is { kind: 'part'; parts: readonly string[] } {
  return segment.kind === 'part' && !segment.parts.includes(WILDCARD);
}

export function literalText(segment: Segment): string | undefined {
  return isLiteralSegment(segment) ? segment.parts.join('') : undefined;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function segmentRegex(segment: Segment): string {
  if (segment.kind === 'globstar') throw new Error('unreachable');
  const startsWithWildcard = segment.parts[0] === WILDCARD;
  const body = segment.parts.map((p) => (p === WILDCARD ? '[^/]*' : escapeRegex(p))).join('');
  // A wildcard at the start of a segment must not match a dot file; an empty name is no name.
  return startsWithWildcard ? `(?!\\.)(?=[^/])${body}` : body;
}

/** Compiles a glob to an anchored regular expression over concrete absolute paths. */
export function globRegex(glob: Glob): RegExp {
  if (glob.segments.length === 0) return /^\/$/;
  let re = '';
  glob.segments.forEach((segment, i) => {
    const last = i === glob.segments.length - 1;
    if (segment.kind === 'globstar') re += last ? '(?:/(?!\\.)[^/]+)+' : '(?:/(?!\\.)[^/]+)*';
    else re += `/${segmentRegex(segment)}`;
  });
  return new RegExp(`^${re}$`);
}

/** Whether the literal segment text is matched by a pattern segment. */
export function segmentMatches(pattern: Segment, text: string): boolean {
  if (pattern.kind === 'globstar') return text !== '' && !text.startsWith('.');
  return partsMatch(pattern.parts, text);
}

/**
 * `parts` (literal text and `*`) against one segment's text, without building a RegExp: simplify
 * asks this for every pair of siblings, and compiling a pattern per question dominated its time.
 * With `*` as the only wildcard, matching the literal runs leftmost-first is exact.
 */
function partsMatch(parts: readonly string[], text: string): boolean {
  if (parts.length === 0) return text === '';
  if (parts[0] === WILDCARD && (text === '' || text.startsWith('.'))) return false;
  let start = 0;
  let lead = '';
  while (start < parts.length && parts[start] !== WILDCARD) lead += parts[start++];
  if (start === parts.length) return lead === text;
  let end = parts.length;
  let trail = '';
  while (end > start && parts[end - 1] !== WILDCARD) trail = parts[--end] + trail;
  const limit = text.length - trail.length;
  if (limit < lead.length || !text.startsWith(lead) || !text.endsWith(trail)) return false;
  let at = lead.length;
  let run = '';
  for (let k = start; k <= end; k++) {
    const part = k < end ? parts[k]! : WILDCARD;
    if (part !== WILDCARD) {
      run += part;
      continue;
    }
    if (run === '') continue;
    const found = text.indexOf(run, at);
    if (found < 0 || found + run.length > limit) return false;
    at = found + run.length;
    run = '';
  }
  return true;
}

/** Conservative inclusion of one segment pattern in another. */
function segmentCovers(outer: Segment, inner: Segment): boolean {
  if (outer.kind === 'globstar' || inner.kind === 'globstar') return false;
  const innerText = literalText(inner);
  if (innerText !== undefined) return segmentMatches(outer, innerText);
  if (segmentSource(outer) === segmentSource(inner)) return true;
  // `*` covers any wildcard segment that cannot start with a dot.
  const innerDotSafe = inner.parts[0] === WILDCARD || !inner.parts[0]!.startsWith('.');
  const o = outer.parts;
  if (o.length === 1 && o[0] === WILDCARD) return innerDotSafe;
  // `*SUFFIX` covers any segment ending with SUFFIX that cannot start with a dot; `PREFIX*` the same.
  const innerSource = inner.parts;
  if (o.length === 2 && o[0] === WILDCARD && o[1] !== WILDCARD) {
    const last = innerSource[innerSource.length - 1]!;
    return innerDotSafe && last !== WILDCARD && last.endsWith(o[1]!);
  }
  if (o.length === 2 && o[1] === WILDCARD && o[0] !== WILDCARD) {
    const first = innerSource[0]!;
    return first !== WILDCARD && first.startsWith(o[0]!);
  }
  return false;
}

/**
 * Whether every path `inner` matches is matched by `outer`. Sound but incomplete: `false` when
 * unsure.
 */
export function globCovers(outer: Glob, inner: Glob): boolean {
  return coversFrom(outer.segments, 0, inner.segments, 0);
}

function coversFrom(o: readonly Segment[], i: number, n: readonly Segment[], j: number): boolean {
  if (i === o.length) return j === n.length;
  const seg = o[i]!;
  if (seg.kind === 'globstar') {
    const trailing = i === o.length - 1;
    // A trailing ** needs at least one more segment; an inner ** may match none.
    if (!trailing && coversFrom(o, i + 1, n, j)) return true;
    if (j === n.length) return false;
    const next = n[j]!;
    const dotSafe =
      next.kind === 'globstar' || next.parts[0] === WILDCARD || !next.parts[0]?.startsWith('.');
    if (!dotSafe) return false;
    // The outer ** absorbs the inner segment (an inner ** too: any depth within any depth).
    return coversFrom(o, i, n, j + 1) || (trailing && j + 1 === n.length);
  }
  if (j === n.length) return false;
  return segmentCovers(seg, n[j]!) && coversFrom(o, i + 1, n, j + 1);
}
