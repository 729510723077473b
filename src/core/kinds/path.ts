/**
 * @module
 * The file path kind. Collapse rules, safe by construction (docs/policy-format.md has examples):
 * - three (the threshold) files in one directory become `dir/*.ext` when they share an extension,
 *   else `dir/*`;
 * - three directories at one position become `*` (`/data/u1/*.png` ... → `/data/*\/*.png`);
 * - files at mixed depths below one directory become `dir/**` (or `dir/**\/*.ext`);
 * - a wildcard is placed only at or below a configured root, never in `/`, never anywhere in
 *   `/etc`, `/proc`, `/sys`, `/dev`, `/boot`, and in `/root` or a home directory only strictly
 *   inside a root that is itself inside that home (a project checked out in `~/src/app`), and
 *   never in a directory above the app's own (`/tmp/*` would cover an app checked out in `/tmp`).
 */
import { BoundedCache, KEY_CACHE_LIMIT } from '../bounded-cache.ts';
import type { Collapse, Kind, SimplifyOptions } from '../kind.ts';
import {
  escapePath,
  type Glob,
  GlobSyntaxError,
  globCovers,
  globRegex,
  globSource,
  isPlainPath,
  literalText,
  parseGlob,
  type Segment,
  WILDCARD,
} from './glob.ts';

/** Directories whose contents are never generalised, whatever the roots say. */
export const SYSTEM_DIRS = ['/etc', '/proc', '/sys', '/dev', '/boot'] as const;
/** The superuser's home: never a wildcard there, as in any home directory. */
export const ROOT_HOME = '/root';
const HOME_PARENTS = ['/home', '/Users'] as const;

export function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The home directory containing `path`, if any (`/root`, `/home/<u>`, `/Users/<u>`, extra homes). */
function homeOf(path: string, extraHomes: readonly string[]): string | undefined {
  if (isUnder(path, ROOT_HOME)) return ROOT_HOME;
  for (const parent of HOME_PARENTS) {
    if (path === parent) return parent;
    if (isUnder(path, parent)) return path.split('/').slice(0, 3).join('/');
  }
  return extraHomes.find((home) => isUnder(path, home));
}

/**
 * Whether a wildcard may stand for an entry of the literal directory `dir`.
 */
export function wildcardAllowedIn(dir: string, options: SimplifyOptions): boolean {
  if (dir === '/' || dir === '') return false;
  if (SYSTEM_DIRS.some((sys) => isUnder(dir, sys))) return false;
  if (options.app !== undefined && options.app !== dir && isUnder(options.app, dir)) return false;
  const roots = options.roots.filter((root) => root !== '/' && isUnder(dir, root));
  if (roots.length === 0) return false;
  const home = homeOf(dir, options.homes);
  if (home === undefined) return true;
  return roots.some((root) => root !== home && isUnder(root, home));
}

/** The literal directory a pattern's first wildcard sits in, e.g. `/data/u` for `/data/u/*.png`. */
function literalPrefix(segments: readonly Segment[], upTo: number): string | undefined {
  const names: string[] = [];
  for (let i = 0; i < upTo; i++) {
    const text = literalText(segments[i]!);
    if (text === undefined) return undefined;
    names.push(text);
  }
  return `/${names.join('/')}`;
}

function extensionOf(name: string): string | undefined {
  const dot = name.lastIndexOf('.');
  // `.env` has no extension; `a.` has none either.
  if (dot <= 0 || dot === name.length - 1) return undefined;
  return name.slice(dot);
}

/** `extensionOf(name) === ext`, without slicing the name. */
function hasExtension(name: string, ext: string): boolean {
  const dot = name.length - ext.length;
  return dot > 0 && dot < name.length - 1 && name.lastIndexOf('.') === dot && name.endsWith(ext);
}

/** `hasExtension` of a plain path's last name, without slicing it. */
function plainHasExtension(key: string, ext: string): boolean {
  const dot = key.length - ext.length;
  return (
    dot > key.lastIndexOf('/') + 1 &&
    dot < key.length - 1 &&
    key.lastIndexOf('.') === dot &&
    key.endsWith(ext)
  );
}

/** A key of steps 2 and 3: its segments are made when first read (a plain path's, by a split). */
class Parsed {
  readonly key: string;
  #glob: Glob | undefined;

  constructor(key: string, glob: Glob | undefined) {
    this.key = key;
    this.#glob = glob;
  }

  get glob(): Glob {
    this.#glob ??= parseGlob(this.key);
    return this.#glob;
  }
}

/**
 * A key of step 1: a plain path (`isPlainPath`) as itself, read as a string (its directory and
 * name are slices of it, its glob is made for the first key of a group only), so that collapsing
 * 100,000 files of one directory allocates next to nothing per file; any other key with its glob,
 * name and directory.
 */
type DirEntry =
  | string
  | { readonly key: string; readonly glob: Glob; readonly name: string | undefined };

const entryKey = (e: DirEntry): string => (typeof e === 'string' ? e : e.key);

/** `*.ext` when every name has the extension `.ext`, else `*`. */
function wildcardSegment(names: readonly string[]): Segment {
  const ext = names.length === 0 ? undefined : extensionOf(names[0]!);
  if (ext !== undefined && names.every((n) => hasExtension(n, ext)))
    return { kind: 'part', parts: [WILDCARD, ext] };
  return { kind: 'part', parts: [WILDCARD] };
}

/** `wildcardSegment` of step 1's members. */
function dirWildcard(members: readonly DirEntry[]): Segment {
  const first = members[0]!;
  const name = typeof first === 'string' ? first.slice(first.lastIndexOf('/') + 1) : first.name;
  const ext = name === undefined ? undefined : extensionOf(name);
  if (
    ext !== undefined &&
    members.every((m) =>
      typeof m === 'string'
        ? plainHasExtension(m, ext)
        : m.name !== undefined && hasExtension(m.name, ext),
    )
  )
    return { kind: 'part', parts: [WILDCARD, ext] };
  return { kind: 'part', parts: [WILDCARD] };
}

export function pathKind(options: { readonly child?: (key: string) => Kind | null } = {}): Kind {
  // The RegExp is built on the first match only: simplify parses every key but matches none.
  const cache = new BoundedCache<string, { glob: Glob; regex?: RegExp } | null>(KEY_CACHE_LIMIT);
  const compiled = (key: string) => {
    let entry = cache.get(key);
    if (entry === undefined) {
      try {
        entry = { glob: parseGlob(key) };
      } catch {
        entry = null;
      }
      cache.set(key, entry);
    }
    return entry;
  };
  let lastOuter: string | undefined;
  let lastCompiled: ReturnType<typeof compiled> = null;
  const child = options.child ?? (() => null);
  return {
    name: 'path',
    key: escapePath,
    matches(key, fact) {
      const entry = compiled(key);
      if (entry === null) return false;
      entry.regex ??= globRegex(entry.glob);
      return entry.regex.test(fact);
    },
    covers(outer, inner) {
      if (outer === inner) return true;
      // Callers ask about one pattern and many keys in a row (a collapse's members).
      if (outer !== lastOuter) {
        lastOuter = outer;
        lastCompiled = compiled(outer);
      }
      const o = lastCompiled;
      if (o === null) return false;
      // A plain path is covered exactly when the glob matches it: no need to parse (or cache) it.
      if (isPlainPath(inner)) {
        o.regex ??= globRegex(o.glob);
        return o.regex.test(inner);
      }
      const i = compiled(inner);
      return i !== null && globCovers(o.glob, i.glob);
    },
    // Only a `*` makes a pattern (`*` or `**`): keys without one are never parsed for this.
    isPattern: (key) => key.includes('*') && (compiled(key)?.glob.isPattern ?? false),
    collapse(keys, simplifyOptions) {
      return collapsePaths(keys, (key) => compiled(key)?.glob, simplifyOptions);
    },
    child,
    validate(key) {
      try {
        parseGlob(key);
        return undefined;
      } catch (error) {
        if (error instanceof GlobSyntaxError) return error.message;
        throw error;
      }
    },
    breadth(key, simplifyOptions) {
      const entry = compiled(key);
      if (entry === null || !entry.glob.isPattern) return undefined;
      const segments = entry.glob.segments;
      const first = segments.findIndex((s) => literalText(s) === undefined);
      const dir = literalPrefix(segments, first) ?? '/';
      if (dir === '/') return `a wildcard directly under / allows the whole file system`;
      if (!wildcardAllowedIn(dir, simplifyOptions)) {
        return `a wildcard in ${dir}, which is not inside a configured root or is a system or home directory`;
      }
      return undefined;
    },
  };
}

/** `globOf(key)`: the key's glob, `undefined` for a malformed key (which never collapses). */
function collapsePaths(
  keys: readonly string[],
  globOf: (key: string) => Glob | undefined,
  options: SimplifyOptions,
): Collapse[] {
  const out: Collapse[] = [];
  const used = new Set<string>();
  const take = (pattern: string, members: readonly Parsed[]): void => {
    const fresh = members.filter((m) => !used.has(m.key) && m.key !== pattern);
    if (fresh.length === 0 || members.length < options.threshold) return;
    for (const m of fresh) used.add(m.key);
    out.push({ pattern, members: fresh.map((m) => m.key) });
  };

  // 1. Files in one directory (dot files stay explicit).
  const byDir = new Map<string, DirEntry[]>();
  // Sorted keys of one directory mostly follow each other: the last group is tried first.
  let lastSlash = -1;
  let lastDir = '';
  let lastGroup: DirEntry[] = [];
  for (const key of keys) {
    if (isPlainPath(key)) {
      const slash = key.lastIndexOf('/');
      if (key.charCodeAt(slash + 1) === 46) continue; // a dot file
      if (slash === lastSlash && key.startsWith(lastDir)) {
        lastGroup.push(key);
        continue;
      }
      lastSlash = slash;
      lastDir = slash === 0 ? '/' : key.slice(0, slash);
      lastGroup = pushTo(byDir, lastDir, key);
      continue;
    }
    const glob = globOf(key);
    if (glob === undefined) continue;
    const segs = glob.segments;
    const last = segs[segs.length - 1];
    if (last === undefined || last.kind === 'globstar') continue;
    const name = literalText(last);
    if (name?.startsWith('.')) continue;
    pushTo(byDir, globSource(segs.slice(0, -1)), { key, glob, name });
  }
  for (const [dirSource, members] of byDir) {
    if (members.length < options.threshold) continue;
    const first = members[0]!;
    const dirSegs = (typeof first === 'string' ? parseGlob(first) : first.glob).segments.slice(
      0,
      -1,
    );
    const dir = literalPrefix(dirSegs, dirSegs.length);
    if (
      dir === undefined ? !wildcardDirAllowed(dirSegs, options) : !wildcardAllowedIn(dir, options)
    ) {
      continue;
    }
    const wildcard = members.some((m) => typeof m !== 'string' && m.name === undefined)
      ? { kind: 'part' as const, parts: [WILDCARD] }
      : dirWildcard(members);
    const pattern = globSource([...dirSegs, wildcard]);
    if (dirSource === '/' && pattern === '/*') continue;
    // A key has one directory, so these groups never overlap, and the later steps (which do
    // overlap, and use `used`) run only when this one took nothing.
    const fresh: string[] = [];
    for (const m of members) if (entryKey(m) !== pattern) fresh.push(entryKey(m));
    if (fresh.length > 0) out.push({ pattern, members: fresh });
  }
  if (out.length > 0) return out;

  // 2. Directories at one position, the rest equal.
  const remaining: Parsed[] = [];
  for (const key of keys) {
    if (isPlainPath(key)) remaining.push(new Parsed(key, undefined));
    else {
      const glob = globOf(key);
      if (glob !== undefined) remaining.push(new Parsed(key, glob));
    }
  }
  let maxDepth = 0;
  for (const p of remaining) maxDepth = Math.max(maxDepth, p.glob.segments.length);
  for (let position = maxDepth - 2; position >= 1; position--) {
    const groups = groupBy(remaining, (p) => {
      const segs = p.glob.segments;
      if (segs.length < position + 2 || used.has(p.key)) return undefined;
      const varying = segs[position]!;
      const name = literalText(varying);
      if (varying.kind === 'globstar' || name === undefined || name.startsWith('.'))
        return undefined;
      return `${segs.length}\u0000${globSource(segs.slice(0, position))}\u0000${globSource(segs.slice(position + 1))}`;
    });
    for (const members of groups.values()) {
      if (members.length < options.threshold) continue;
      const segs = members[0]!.glob.segments;
      const dir = literalPrefix(segs, position);
      if (dir === undefined || !wildcardAllowedIn(dir, options)) continue;
      const pattern = globSource([
        ...segs.slice(0, position),
        { kind: 'part', parts: [WILDCARD] },
        ...segs.slice(position + 1),
      ]);
      take(pattern, members);
    }
  }
  if (out.length > 0) return out;

  // 3. Mixed depths below one directory: the deepest directory that gathers enough of them.
  const candidates = new Map<string, Parsed[]>();
  for (const p of remaining) {
    const segs = p.glob.segments;
    for (let depth = 1; depth <= segs.length - 1; depth++) {
      const dir = literalPrefix(segs, depth);
      if (dir === undefined) break;
      if (!segs.slice(depth).every(dotSafe)) continue;
      pushTo(candidates, dir, p);
    }
  }
  const dirs = [...candidates.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  for (const dir of dirs) {
    const members = candidates.get(dir)!.filter((m) => !used.has(m.key));
    if (members.length < options.threshold || !wildcardAllowedIn(dir, options)) continue;
    const depths = new Set(members.map((m) => m.glob.segments.length));
    if (depths.size < 2) continue;
    const names = members.map((m) => literalText(m.glob.segments[m.glob.segments.length - 1]!));
    const last = names.some((n) => n === undefined)
      ? undefined
      : wildcardSegment(names as string[]);
    const base = globSource(parseGlob(escapeDir(dir)).segments);
    const pattern =
      last && last.kind === 'part' && last.parts.length > 1
        ? `${base}/**/${'*' + last.parts[1]}`
        : `${base}/**`;
    take(pattern, members);
  }
  return out;
}

function escapeDir(dir: string): string {
  return dir.split('/').map(escapePath).join('/');
}

function dotSafe(segment: Segment): boolean {
  if (segment.kind === 'globstar') return true;
  const first = segment.parts[0];
  return first === undefined || first === WILDCARD || !first.startsWith('.');
}

/** A directory given with wildcards (`/data/*`): allowed when its literal part is. */
function wildcardDirAllowed(dirSegs: readonly Segment[], options: SimplifyOptions): boolean {
  const first = dirSegs.findIndex((s) => literalText(s) === undefined);
  const dir = literalPrefix(dirSegs, first === -1 ? dirSegs.length : first);
  return dir !== undefined && wildcardAllowedIn(dir, options);
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string | undefined): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    if (key === undefined) continue;
    pushTo(out, key, item);
  }
  return out;
}

/** Adds `item` to the list of `key`; returns that list. */
function pushTo<T>(map: Map<string, T[]>, key: string, item: T): T[] {
  const list = map.get(key);
  if (list === undefined) {
    const created = [item];
    map.set(key, created);
    return created;
  }
  list.push(item);
  return list;
}
