/**
 * @module
 * The network endpoint kind: `host:port` facts (`api.example.com:443`, `127.0.0.1:5432`,
 * `[::1]:5432`). Keys are canonical: hostnames in lower case without a trailing dot, Unicode names
 * in their ASCII (punycode) form, IP addresses in the form the WHATWG URL parser prints
 * (`127.1` → `127.0.0.1`, `[0:0::1]` → `[::1]`), ports in decimal without leading zeros, so that
 * one endpoint has one key however the service spelled it.
 *
 * Patterns: `*.cdn.example.com:443`, where `*` is exactly one whole DNS label (`a.cdn.example.com`
 * but neither `cdn.example.com` nor `a.b.cdn.example.com`), and a hand-written port `*`
 * (`db.internal:*`), which lint flags.
 *
 * Collapse, safe by construction:
 * - three (the threshold) hostnames on one port that differ only in their first label become
 *   `*.<parent>:<port>`, but only when the parent is the registrable domain or below it on the
 *   public suffix list (private suffixes included): `a.cdn.example.com` + `b.…` + `c.…` →
 *   `*.cdn.example.com`, `a.example.co.uk` + `b.…` + `c.…` → `*.example.co.uk`, while `a.com` +
 *   `b.com` + `c.com`, `x.co.uk` + `y.co.uk` + `z.co.uk` or `a.github.io` + … stay separate rules;
 * - IP addresses and ports never generalise: a connection to a new address or port is a new
 *   privilege.
 *
 * A fact that is not a well-formed `host:port` (or whose host contains `*`) is stored as `\` and the
 * fact itself: an exact key that no pattern matches, so a concrete fact never becomes a wildcard.
 */

import { getDomain } from 'tldts';
import { BoundedCache, KEY_CACHE_LIMIT } from '../bounded-cache.ts';
import type { Collapse, Kind, SimplifyOptions } from '../kind.ts';

// Private suffixes (github.io, s3.amazonaws.com) are boundaries too: two tenants of one hosting
// service are as unrelated as two .com domains.
const TLD_OPTIONS = { allowPrivateDomains: true } as const;

const ANY = '*';
const ESCAPE = '\\';
const HOSTNAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$/;
const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;
const PORT = /^\d{1,5}$/;

/** A parsed key or fact. `host` is canonical; for a wildcard it is the whole `*.parent`. */
interface Endpoint {
  readonly host: string;
  readonly ip: boolean;
  /** The host without its first label (`cdn.example.com` for `*.cdn.example.com`). */
  readonly parent: string | undefined;
  readonly wildcard: boolean;
  /** Decimal port, or `*` in a hand-written pattern. */
  readonly port: string;
}

type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

function splitHostPort(text: string): Result<{ host: string; port: string }> {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return fail(`an IPv6 address needs a closing ']' (${text})`);
    const rest = text.slice(close + 1);
    if (!rest.startsWith(':'))
      return fail(`a port is missing: write ${text.slice(0, close + 1)}:<port>`);
    return { ok: true, value: { host: text.slice(0, close + 1), port: rest.slice(1) } };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) return fail(`a port is missing: write ${text || '<host>'}:<port>`);
  const host = text.slice(0, colon);
  if (host.includes(':'))
    return fail(`an IPv6 address must be written in brackets: [${host}]:<port>`);
  return { ok: true, value: { host, port: text.slice(colon + 1) } };
}

function canonicalPort(port: string, allowAny: boolean): Result<string> {
  if (port === ANY) return allowAny ? { ok: true, value: ANY } : fail(`a concrete port is needed`);
  if (port === '') return fail('a port is missing after ":"');
  if (!PORT.test(port) || Number(port) > 65535) return fail(`'${port}' is not a port (0-65535)`);
  return { ok: true, value: String(Number(port)) };
}

/** Canonical form of a concrete host: a hostname or an IP address (IPv6 in brackets). */
function canonicalHost(raw: string): Result<{ host: string; ip: boolean }> {
  if (raw === '' || raw === '.') return fail('the host is empty');
  if (raw.startsWith('[')) {
    if (!raw.endsWith(']')) return fail(`'${raw}' is not an IPv6 address in brackets`);
    const inner = raw.slice(1, -1);
    const percent = inner.indexOf('%');
    const address = percent < 0 ? inner : inner.slice(0, percent);
    const zone = percent < 0 ? '' : inner.slice(percent);
    if (!/^[0-9a-fA-F:.]+$/.test(address) || !address.includes(':')) {
      return fail(`'${raw}' is not an IPv6 address`);
    }
    if (zone !== '' && !/^%[A-Za-z0-9_.-]+$/.test(zone))
      return fail(`'${zone}' is not an IPv6 zone`);
    const parsed = urlHostname(`[${address}]`);
    if (parsed === undefined) return fail(`'${raw}' is not an IPv6 address`);
    return { ok: true, value: { host: `${parsed.slice(0, -1)}${zone}]`, ip: true } };
  }
  // One trailing dot is the fully qualified spelling of the same name.
  let host = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  host = host.toLowerCase();
  // Only letters, digits, '-', '_' and dots reach the URL parser, so it cannot read a user name,
  // a path or a port out of the host; it converts Unicode to punycode and IPv4 forms to dotted quads.
  if (!/^[a-z0-9_.\-\u0080-\uffff]+$/.test(host)) {
    return fail(`'${raw}' is not a hostname or IP address`);
  }
  const parsed = urlHostname(host);
  if (parsed === undefined || !HOSTNAME.test(parsed)) {
    return fail(`'${raw}' is not a hostname or IP address`);
  }
  return { ok: true, value: { host: parsed, ip: IPV4.test(parsed) } };
}

function urlHostname(host: string): string | undefined {
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
}

function parentOf(host: string): string | undefined {
  const dot = host.indexOf('.');
  return dot < 0 ? undefined : host.slice(dot + 1);
}

/** Parses a key (pattern or canonical fact) or, with `concrete`, a fact. */
function parseEndpoint(text: string, concrete: boolean): Result<Endpoint> {
  const split = splitHostPort(text);
  if (!split.ok) return split;
  const { host: rawHost, port: rawPort } = split.value;
  const port = canonicalPort(rawPort, !concrete);
  if (!port.ok) return port;
  if (rawHost.includes(ANY)) {
    if (concrete) return fail(`a '*' in a concrete host`);
    if (rawHost === ANY) return fail(`'*' needs a parent domain: write *.example.com:${rawPort}`);
    const rest = rawHost.slice(2);
    if (!rawHost.startsWith('*.') || rest.includes(ANY)) {
      return fail(`a '*' must be the whole leftmost label, as in *.example.com (got '${rawHost}')`);
    }
    const parent = canonicalHost(rest);
    if (!parent.ok) return parent;
    if (parent.value.ip)
      return fail(`a wildcard needs a domain name, not an IP address ('${rawHost}')`);
    const p = parent.value.host;
    return {
      ok: true,
      value: { host: `*.${p}`, ip: false, parent: p, wildcard: true, port: port.value },
    };
  }
  const host = canonicalHost(rawHost);
  if (!host.ok) return host;
  const { host: h, ip } = host.value;
  return {
    ok: true,
    value: { host: h, ip, parent: ip ? undefined : parentOf(h), wildcard: false, port: port.value },
  };
}

function format(endpoint: Endpoint): string {
  return `${endpoint.host}:${endpoint.port}`;
}

/** Whether `parent` is the registrable domain or a name below it (so `*.parent` is one owner's). */
function parentAllowed(parent: string): boolean {
  return getDomain(parent, TLD_OPTIONS) !== null;
}

function hostCovers(outer: Endpoint, inner: Endpoint): boolean {
  if (!outer.wildcard) return !inner.wildcard && outer.host === inner.host;
  if (inner.wildcard) return inner.parent === outer.parent;
  // One label exactly: the fact's parent must be the pattern's parent. IPs never match.
  return !inner.ip && inner.parent === outer.parent;
}

export interface EndpointKindOptions {
  /** The kind of the next position; `null` (the default) when a rule ends here. */
  readonly child?: (key: string) => Kind | null;
}

export function endpointKind(options: EndpointKindOptions = {}): Kind {
  const child = options.child ?? (() => null);
  const cache = new BoundedCache<string, Endpoint | null>(KEY_CACHE_LIMIT);
  const parsedKey = (key: string): Endpoint | null => {
    let entry = cache.get(key);
    if (entry === undefined) {
      const result = parseEndpoint(key, false);
      // A key is only meaningful in canonical form: anything else is an exact (escaped) key.
      entry = result.ok && format(result.value) === key ? result.value : null;
      cache.set(key, entry);
    }
    return entry;
  };
  // Normalising a host goes through the URL parser, most of a decision's cost; a service
  // connects to a handful of endpoints, so the keys of recent facts are remembered.
  const keys = new BoundedCache<string, string>(KEY_CACHE_LIMIT);
  const keyOf = (fact: string): string => {
    let key = keys.get(fact);
    if (key === undefined) {
      const result = parseEndpoint(fact, true);
      key = result.ok ? format(result.value) : ESCAPE + fact;
      keys.set(fact, key);
    }
    return key;
  };
  const isPattern = (e: Endpoint): boolean => e.wildcard || e.port === ANY;

  return {
    name: 'endpoint',
    key: keyOf,
    matches(key, fact) {
      const k = parsedKey(key);
      if (k === null || !isPattern(k)) return key === keyOf(fact);
      const f = parseEndpoint(fact, true);
      if (!f.ok) return false;
      return (k.port === ANY || k.port === f.value.port) && hostCovers(k, f.value);
    },
    covers(outer, inner) {
      if (outer === inner) return true;
      const o = parsedKey(outer);
      const i = parsedKey(inner);
      if (o === null || i === null || !isPattern(o)) return false;
      return (o.port === ANY || o.port === i.port) && hostCovers(o, i);
    },
    isPattern(key) {
      const k = parsedKey(key);
      return k !== null && isPattern(k);
    },
    collapse(keys, simplifyOptions) {
      return collapseEndpoints(keys, parsedKey, simplifyOptions);
    },
    child,
    validate(key) {
      if (key === '') return 'an empty endpoint';
      if (key.startsWith(ESCAPE)) {
        // An escaped fact is what `key` stores for a fact that is not a host:port.
        return keyOf(key.slice(1)) === key
          ? undefined
          : `'${key}' is escaped but '${key.slice(1)}' is a valid endpoint: write it without '\\'`;
      }
      const result = parseEndpoint(key, false);
      if (!result.ok) return result.reason;
      const canonical = format(result.value);
      if (canonical !== key) return `'${key}' is not in canonical form: write ${canonical}`;
      return undefined;
    },
    breadth(key) {
      const k = parsedKey(key);
      if (k === null) return undefined;
      if (k.wildcard && k.parent !== undefined && !parentAllowed(k.parent)) {
        return `'${key}' allows every domain under the public suffix '${k.parent}'; leash never generalises above a registrable domain`;
      }
      if (k.port === ANY) return `'${key}' allows every port; leash keeps ports exact`;
      return undefined;
    },
  };
}

function collapseEndpoints(
  keys: readonly string[],
  parsedKey: (key: string) => Endpoint | null,
  options: SimplifyOptions,
): Collapse[] {
  const groups = new Map<string, string[]>();
  for (const key of keys) {
    const e = parsedKey(key);
    // IPs, single-label hosts and hand-written port wildcards never take part.
    if (e === null || e.ip || e.port === ANY || e.parent === undefined) continue;
    const pattern = `*.${e.parent}:${e.port}`;
    let members = groups.get(pattern);
    if (members === undefined) {
      members = [];
      groups.set(pattern, members);
    }
    members.push(key);
  }
  const out: Collapse[] = [];
  for (const [pattern, members] of groups) {
    if (members.length < options.threshold) continue;
    const parent = parsedKey(pattern)?.parent;
    if (parent === undefined || !parentAllowed(parent)) continue;
    out.push({ pattern, members });
  }
  return out;
}
