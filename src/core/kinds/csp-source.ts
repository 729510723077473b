/**
 * @module
 * The CSP source kind, the last position of csp facts `[route, directive, source]`. Keys are CSP
 * source expressions, as they will appear in the header:
 *
 * - keywords: `'self'`, `'none'`, `'unsafe-eval'`, `'unsafe-inline'`, `'strict-dynamic'`,
 *   `'unsafe-hashes'`, `'wasm-unsafe-eval'`; hashes `'sha256-…'` (also sha384, sha512). Nonces
 *   are never stored: they change with every response and leash adds its own;
 * - `*`, and scheme sources: `https:`, `data:`, `blob:`;
 * - host sources: `https://cdn.example.com`, `https://cdn.example.com:8443`,
 *   `https://*.example.com` (one or more labels, as in CSP), `https://cdn.example.com/js/` (a path
 *   ending in `/` is a prefix), `https://cdn.example.com/js/app.js` (an exact path). No path: any
 *   path. A scheme is required; a default port is left out; host and scheme are lower case.
 *
 * A concrete fact (what the csp module makes of a violation report: a keyword, a hash, a scheme,
 * an origin or a URL) is keyed by the narrowest source expression CSP can write for it: the URL
 * without query or fragment. An origin-only fact (browsers trim cross-origin reports) therefore
 * allows the whole origin, and a URL whose path ends in `/` allows what is below it: CSP cannot
 * say less. A fact outside this grammar (a `*` or an IPv6 address in the host, an unknown
 * keyword) is stored as `\` and the fact: an exact key that is never a pattern and that the
 * header leaves out.
 *
 * Matching follows CSP Level 3 for these cases, strictly: schemes must be equal (no `http:` →
 * `https:` upgrade), `*` allows http(s) URLs only, a missing port means the scheme's default.
 *
 * Collapse, with the threshold 3:
 * - paths on one origin: the deepest directory that gathers three of them, `/js/a.js`,
 *   `/js/b.js`, `/js/lib/c.js` → `https://cdn.example.com/js/`; at `/` the bare origin;
 * - hosts with one scheme and port, below one parent that is the registrable domain or lower on
 *   the public suffix list: `https://a.cdn.example.com`, `https://b.…`, `https://c.…` →
 *   `https://*.cdn.example.com`. Never above the registrable domain (`https://a.com`,
 *   `https://b.com`, `https://c.com` stay), never IP addresses;
 * - keywords, hashes, schemes and `*` never collapse.
 */

import { getDomain } from 'tldts';
import { BoundedCache, KEY_CACHE_LIMIT } from '../bounded-cache.ts';
import type { Collapse, Kind, SimplifyOptions } from '../kind.ts';

const TLD_OPTIONS = { allowPrivateDomains: true } as const;

export const CSP_KEYWORDS = [
  "'self'",
  "'none'",
  "'unsafe-eval'",
  "'unsafe-inline'",
  "'strict-dynamic'",
  "'unsafe-hashes'",
  "'wasm-unsafe-eval'",
] as const;

const HASH_BYTES: Readonly<Record<string, number>> = { sha256: 32, sha384: 48, sha512: 64 };
const DEFAULT_PORTS: Readonly<Record<string, string>> = {
  http: '80',
  https: '443',
  ws: '80',
  wss: '443',
  ftp: '21',
};
/** The schemes a bare `*` allows. */
const STAR_SCHEMES = new Set(['http', 'https']);

const ESCAPE = '\\';
const SCHEME = /^[a-z][a-z0-9+.-]*$/i;
const HOST = /^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/;
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;
const PATH = /^\/[A-Za-z0-9\-._~%!$&'()*+=:@/]*$/;

type Source =
  | { readonly type: 'keyword' | 'hash'; readonly text: string }
  | { readonly type: 'any' }
  | { readonly type: 'scheme'; readonly scheme: string }
  | {
      readonly type: 'host';
      readonly scheme: string;
      /** `*`, `*.parent` or a hostname. */
      readonly host: string;
      /** For `*.parent`, the parent; else undefined. */
      readonly parent: string | undefined;
      /** Digits, `*`, or undefined for the scheme's default. */
      readonly port: string | undefined;
      /** Undefined: any path. Ending in `/`: a prefix. Else exact. */
      readonly path: string | undefined;
    }
  | { readonly type: 'escaped' };

type HostSource = Extract<Source, { type: 'host' }>;
type Parsed =
  | { readonly ok: true; readonly value: Source }
  | { readonly ok: false; readonly reason: string };

const bad = (reason: string): Parsed => ({ ok: false, reason });

function parseQuoted(key: string): Parsed {
  const lower = key.toLowerCase();
  if ((CSP_KEYWORDS as readonly string[]).includes(lower))
    return { ok: true, value: { type: 'keyword', text: lower } };
  const body = key.slice(1, -1);
  if (/^nonce-/i.test(body))
    return bad('nonces change with every response and are never stored; leash adds its own');
  const hash = /^(sha\d+)-(.*)$/i.exec(body);
  if (hash !== null) {
    const algorithm = hash[1]!.toLowerCase();
    const value = hash[2]!;
    const bytes = HASH_BYTES[algorithm];
    if (bytes === undefined)
      return bad(`unknown hash algorithm '${hash[1]}': expected sha256, sha384 or sha512`);
    const padded = Math.ceil(bytes / 3) * 4;
    const bare = Math.ceil((bytes * 4) / 3);
    if (
      !/^[A-Za-z0-9+/_-]+={0,2}$/.test(value) ||
      (value.length !== padded && value.length !== bare)
    ) {
      return bad(`a ${algorithm} hash is ${padded} base64 characters (got '${value}')`);
    }
    return { ok: true, value: { type: 'hash', text: `'${algorithm}-${value}'` } };
  }
  return bad(
    `unknown keyword ${key}: expected one of ${CSP_KEYWORDS.join(', ')} or a hash 'sha256-…'`,
  );
}

function parseHost(scheme: string, rest: string, key: string): Parsed {
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const rawPath = slash < 0 ? undefined : rest.slice(slash);
  if (authority.startsWith('[')) return bad(`CSP sources cannot name an IPv6 address (${key})`);
  if (authority.includes('@')) return bad(`a source has no user name (${key})`);
  const colon = authority.indexOf(':');
  const rawHost = (colon < 0 ? authority : authority.slice(0, colon)).toLowerCase();
  const rawPort = colon < 0 ? undefined : authority.slice(colon + 1);
  if (rawHost === '') return bad(`'${key}' has no host: write ${scheme}://example.com`);
  let parent: string | undefined;
  if (rawHost.includes('*')) {
    if (rawHost !== '*') {
      parent = rawHost.slice(2);
      if (!rawHost.startsWith('*.') || parent.includes('*')) {
        return bad(
          `a '*' must be the whole leftmost label, as in ${scheme}://*.example.com (got '${rawHost}')`,
        );
      }
      if (!HOST.test(parent)) return bad(`'${parent}' is not a host name`);
    }
  } else if (!HOST.test(rawHost)) {
    return bad(`'${rawHost}' is not a host name`);
  }
  let port = rawPort;
  if (port !== undefined && port !== '*') {
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return bad(`'${port}' is not a port`);
    port = String(Number(port));
    if (DEFAULT_PORTS[scheme] === port) port = undefined;
  }
  let path = rawPath;
  if (path !== undefined) {
    if (/[?#]/.test(path)) return bad(`a source has no query or fragment (${key})`);
    if (/[;,]/.test(path))
      return bad(`';' and ',' end a source in a header: write them as %3B and %2C`);
    if (!PATH.test(path))
      return bad(`'${path}' is not a URL path (percent-encode other characters)`);
    if (path === '/') path = undefined; // `/` allows every path, as no path does
  }
  return { ok: true, value: { type: 'host', scheme, host: rawHost, parent, port, path } };
}

/** Parses a key: a source expression in this kind's grammar, or an escaped fact. */
function parseKey(key: string): Parsed {
  if (key === '') return bad('an empty source');
  if (key.startsWith(ESCAPE)) return { ok: true, value: { type: 'escaped' } };
  if (key === '*') return { ok: true, value: { type: 'any' } };
  if (key.startsWith("'")) {
    if (key.length < 2 || !key.endsWith("'"))
      return bad(`a keyword is quoted on both sides: ${key}'`);
    return parseQuoted(key);
  }
  if ((CSP_KEYWORDS as readonly string[]).includes(`'${key.toLowerCase()}'`)) {
    return bad(`keywords are quoted: write '${key.toLowerCase()}'`);
  }
  if (/^[a-z][a-z0-9+.-]*:$/i.test(key))
    return { ok: true, value: { type: 'scheme', scheme: key.slice(0, -1).toLowerCase() } };
  const separator = key.indexOf('://');
  if (separator < 0) {
    if (/^[*a-z0-9.-]+(?::[\d*]+)?(?:\/.*)?$/i.test(key))
      return bad(`write the scheme: https://${key}`);
    return bad(
      'not a CSP source: expected a keyword, a hash, a scheme (https:) or a host source (https://example.com)',
    );
  }
  const name = key.slice(0, separator);
  if (!SCHEME.test(name)) return bad(`'${name}' is not a URL scheme`);
  return parseHost(name.toLowerCase(), key.slice(separator + 3), key);
}

function format(source: Source): string | undefined {
  switch (source.type) {
    case 'keyword':
    case 'hash':
      return source.text;
    case 'any':
      return '*';
    case 'scheme':
      return `${source.scheme}:`;
    case 'host':
      return `${source.scheme}://${source.host}${source.port === undefined ? '' : `:${source.port}`}${source.path ?? ''}`;
    case 'escaped':
      return undefined;
  }
}

/** Percent-encodes what a source expression cannot hold (`;` and `,` end it in a header). */
function canonicalPath(path: string): string {
  return path.replace(/[^A-Za-z0-9\-._~%!$&'()*+=:@/]/gu, (ch) => encodeURIComponent(ch));
}

/** The key of a concrete fact, or undefined when it is outside the grammar. */
function factSource(fact: string): Source | undefined {
  if (fact.startsWith("'")) {
    const parsed = parseKey(fact);
    return parsed.ok && (parsed.value.type === 'keyword' || parsed.value.type === 'hash')
      ? parsed.value
      : undefined;
  }
  if (/^[a-z][a-z0-9+.-]*:$/i.test(fact))
    return { type: 'scheme', scheme: fact.slice(0, -1).toLowerCase() };
  let url: URL;
  try {
    url = new URL(fact);
  } catch {
    return undefined;
  }
  const scheme = url.protocol.slice(0, -1);
  // `data:…`, `blob:https://…`: CSP can only name the scheme.
  if (url.hostname === '') return SCHEME.test(scheme) ? { type: 'scheme', scheme } : undefined;
  if (!HOST.test(url.hostname)) return undefined;
  const path = canonicalPath(url.pathname);
  const port = url.port === '' || DEFAULT_PORTS[scheme] === url.port ? undefined : url.port;
  return {
    type: 'host',
    scheme,
    host: url.hostname,
    parent: undefined,
    port,
    path: path === '' || path === '/' ? undefined : path,
  };
}

function hostCovers(outer: HostSource, inner: HostSource): boolean {
  if (outer.host === '*') return true;
  if (outer.parent === undefined) return inner.host === outer.host;
  // `*.example.com` allows any name below example.com (CSP: one or more labels), not itself.
  const suffix = `.${outer.parent}`;
  const innerName = inner.parent ?? inner.host;
  if (inner.host === '*') return false;
  return inner.parent !== undefined
    ? innerName === outer.parent || innerName.endsWith(suffix)
    : innerName.endsWith(suffix);
}

function pathCovers(outer: string | undefined, inner: string | undefined): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  return outer.endsWith('/') ? inner.startsWith(outer) : inner === outer;
}

/** Whether every URL or keyword `inner` allows, `outer` allows. */
function sourceCovers(outer: Source, inner: Source): boolean {
  switch (outer.type) {
    case 'any':
      return (
        inner.type === 'any' ||
        (inner.type === 'scheme' && STAR_SCHEMES.has(inner.scheme)) ||
        (inner.type === 'host' && STAR_SCHEMES.has(inner.scheme))
      );
    case 'scheme':
      return (inner.type === 'scheme' || inner.type === 'host') && inner.scheme === outer.scheme;
    case 'host':
      return (
        inner.type === 'host' &&
        inner.scheme === outer.scheme &&
        hostCovers(outer, inner) &&
        (outer.port === '*' || inner.port === outer.port) &&
        pathCovers(outer.path, inner.path)
      );
    case 'keyword':
    case 'hash':
      return (inner.type === 'keyword' || inner.type === 'hash') && inner.text === outer.text;
    case 'escaped':
      return false;
  }
}

function isPatternSource(s: Source): boolean {
  switch (s.type) {
    case 'any':
    case 'scheme':
      return true;
    case 'host':
      return s.host.includes('*') || s.port === '*' || s.path === undefined || s.path.endsWith('/');
    default:
      return false;
  }
}

export function cspSourceKind(): Kind {
  const cache = new BoundedCache<string, Source | null>(KEY_CACHE_LIMIT);
  const parsedKey = (key: string): Source | null => {
    let entry = cache.get(key);
    if (entry === undefined) {
      const result = parseKey(key);
      // Only canonical keys are meaningful (a fact is looked up by its canonical key).
      entry =
        result.ok && (result.value.type === 'escaped' || format(result.value) === key)
          ? result.value
          : null;
      cache.set(key, entry);
    }
    return entry;
  };
  const keyOf = (fact: string): string => {
    const source = factSource(fact);
    return source === undefined ? ESCAPE + fact : format(source)!;
  };

  return {
    name: 'csp-source',
    key: keyOf,
    matches(key, fact) {
      const k = parsedKey(key);
      if (k === null) return false;
      const f = factSource(fact);
      if (!isPatternSource(k) || f === undefined) return key === keyOf(fact);
      return sourceCovers(k, f);
    },
    covers(outer, inner) {
      if (outer === inner) return true;
      const o = parsedKey(outer);
      const i = parsedKey(inner);
      return o !== null && i !== null && sourceCovers(o, i);
    },
    isPattern(key) {
      const k = parsedKey(key);
      return k !== null && isPatternSource(k);
    },
    collapse(keys, options) {
      return collapseSources(keys, parsedKey, options);
    },
    child: () => null,
    validate(key) {
      const result = parseKey(key);
      if (!result.ok) return result.reason;
      if (result.value.type === 'escaped') {
        const fact = key.slice(1);
        return keyOf(fact) === key
          ? undefined
          : `'${key}' is escaped but '${fact}' is a source expression: write it without '\\'`;
      }
      const canonical = format(result.value);
      return canonical === key ? undefined : `not in canonical form: write ${canonical}`;
    },
    breadth(key) {
      const k = parsedKey(key);
      if (k === null) return undefined;
      if (k.type === 'any') return `'*' allows every http and https URL`;
      if (k.type === 'scheme') return `'${key}' allows every ${k.scheme}: URL`;
      if (k.type === 'keyword' && k.text === "'unsafe-inline'") {
        return `'unsafe-inline' allows every inline script or style; leash's enforced policy uses nonces instead`;
      }
      if (k.type === 'host' && k.host === '*') return `'${key}' allows every host`;
      if (
        k.type === 'host' &&
        k.parent !== undefined &&
        getDomain(k.parent, TLD_OPTIONS) === null
      ) {
        return `'${key}' allows every site under the public suffix '${k.parent}'; leash never generalises above a registrable domain`;
      }
      return undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Collapse

interface Member {
  readonly key: string;
  readonly source: HostSource;
}

function origin(s: HostSource): string {
  return `${s.scheme}://${s.host}${s.port === undefined ? '' : `:${s.port}`}`;
}

/** The directory of a path: itself when it is a prefix (`/js/`), else up to its last `/`. */
function directory(path: string): string {
  return path.slice(0, path.lastIndexOf('/') + 1);
}

function commonDirectory(paths: readonly string[]): string {
  let prefix = directory(paths[0]!);
  for (const p of paths.slice(1)) {
    const d = directory(p);
    let i = 0;
    while (i < prefix.length && i < d.length && prefix[i] === d[i]) i++;
    prefix = directory(prefix.slice(0, i));
  }
  return prefix;
}

function collapseSources(
  keys: readonly string[],
  parsedKey: (key: string) => Source | null,
  options: SimplifyOptions,
): Collapse[] {
  const hosts: Member[] = [];
  for (const key of keys) {
    const s = parsedKey(key);
    if (s !== null && s.type === 'host') hosts.push({ key, source: s });
  }
  const byPaths = collapsePaths(hosts, options);
  // Like the path kind, one step per round: hosts generalise once their paths have settled.
  return byPaths.length > 0 ? byPaths : collapseHosts(hosts, options);
}

/** Paths on one origin: the deepest directory that gathers `threshold` of them. */
function collapsePaths(hosts: readonly Member[], options: SimplifyOptions): Collapse[] {
  const byOrigin = new Map<string, Member[]>();
  for (const m of hosts) {
    if (m.source.path === undefined) continue;
    const o = origin(m.source);
    let list = byOrigin.get(o);
    if (list === undefined) {
      list = [];
      byOrigin.set(o, list);
    }
    list.push(m);
  }
  const out: Collapse[] = [];
  for (const [o, members] of byOrigin) {
    if (members.length < options.threshold) continue;
    const dirs = new Set<string>();
    for (const m of members) {
      const d = directory(m.source.path!);
      for (let i = d.indexOf('/'); i >= 0; i = d.indexOf('/', i + 1)) dirs.add(d.slice(0, i + 1));
    }
    const used = new Set<string>();
    for (const dir of [...dirs].sort((a, b) => b.length - a.length || (a < b ? -1 : 1))) {
      const group = members.filter((m) => !used.has(m.key) && m.source.path!.startsWith(dir));
      if (group.length < options.threshold) continue;
      const pattern = dir === '/' ? o : `${o}${dir}`;
      for (const m of group) used.add(m.key);
      out.push({ pattern, members: group.map((m) => m.key) });
    }
  }
  return out;
}

/** The names a host may be generalised under: its parents at or below the registrable domain. */
function parentsOf(s: HostSource): string[] {
  if (s.host === '*' || IPV4.test(s.host)) return [];
  const out: string[] = [];
  let name = s.parent ?? s.host;
  // A wildcard `*.p` sits below `p` itself; a host below its parents only.
  if (s.parent !== undefined) out.push(name);
  for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.')) {
    name = name.slice(dot + 1);
    out.push(name);
  }
  return out.filter((p) => getDomain(p, TLD_OPTIONS) !== null);
}

/** Hosts of one scheme and port under one parent: the deepest parent that gathers enough hosts. */
function collapseHosts(hosts: readonly Member[], options: SimplifyOptions): Collapse[] {
  const candidates = new Map<string, Member[]>();
  for (const m of hosts) {
    if (m.source.port === '*') continue;
    for (const parent of parentsOf(m.source)) {
      const at = `${m.source.scheme}://*.${parent}${m.source.port === undefined ? '' : `:${m.source.port}`}`;
      let list = candidates.get(at);
      if (list === undefined) {
        list = [];
        candidates.set(at, list);
      }
      list.push(m);
    }
  }
  const depth = (at: string) => at.split('.').length;
  const out: Collapse[] = [];
  const used = new Set<string>();
  for (const at of [...candidates.keys()].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1))) {
    const group = candidates.get(at)!.filter((m) => !used.has(m.key));
    if (new Set(group.map((m) => m.source.host)).size < options.threshold) continue;
    // Keep a directory every member shares (`https://*.cdn.example.com/js/`), else any path.
    const paths = group.map((m) => m.source.path);
    const common = paths.every((p) => p !== undefined) ? commonDirectory(paths as string[]) : '/';
    const pattern = common === '/' ? at : `${at}${common}`;
    for (const m of group) used.add(m.key);
    out.push({ pattern, members: group.map((m) => m.key) });
  }
  return out;
}
