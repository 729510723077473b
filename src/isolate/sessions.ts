/**
 * @module
 * Sessions held by the supervisor (Passe's session server). Workers are separate processes, so a
 * session an in-memory store created in the login route's worker would be unknown to every other;
 * instead the workers' express-session MemoryStore asks the supervisor, which keeps the data and so
 * knows, for each request, who is logged in — from a table the workers cannot rewrite at will:
 *
 * - a worker reads, saves, touches or destroys only the sessions of the request it serves (the ids
 *   its cookies carry), or saves a brand-new one (a login regenerates the id);
 * - only a login route (`isolate.loginRoutes`) may save a session whose principal differs from the
 *   one the request arrived with: everywhere else, setting `req.session.user = 'bob'` is refused.
 *
 * The principal is read from the saved data at the path the `principal` setting names under
 * `session` (`req.session.user` → `user`; passport's `req.session.passport.user` works the same).
 */
import { LeashError } from '../errors.ts';
import type { RequestRecord } from './requests.ts';

/** express-session's signed cookie value: `s:<id>.<signature>`. */
const SIGNED = /^s:([^.]+)\.[A-Za-z0-9+/=_-]+$/;

/** The session ids a Cookie header carries (signatures are the service's to check). */
export function sessionIdsOf(cookieHeader: string | undefined): string[] {
  if (cookieHeader === undefined) return [];
  const out: string[] = [];
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      continue;
    }
    const m = SIGNED.exec(value);
    if (m !== null) out.push(m[1]!);
  }
  return out;
}

/** The session path of a `principal` setting (`req.session.user` → ['user']), or undefined. */
export function sessionPrincipalPath(principal: unknown): string[] | undefined {
  if (typeof principal !== 'string') return undefined;
  const m = /^(?:req\.|request\.)?session\.(.+)$/.exec(principal);
  return m === null ? undefined : m[1]!.split('.');
}

interface Entry {
  readonly json: string;
  readonly principal: string | undefined;
  readonly expires: number | undefined;
}

export interface SessionTable {
  /** Who the request is logged in as, by its cookies. */
  principalOf(sessionIds: readonly string[]): string | undefined;
  /** One store operation of a worker, for the request its token names (undefined: none). */
  handle(
    op: string,
    sid: unknown,
    json: unknown,
    record: RequestRecord | undefined,
  ): string | null | undefined;
  readonly size: number;
}

export interface SessionTableOptions {
  readonly principalPath: readonly string[];
  readonly loginRoutes: ReadonlySet<string>;
  readonly now?: () => number;
  /** Sessions kept at most (the oldest go first), so a flood of new sessions cannot fill memory. */
  readonly max?: number;
}

function deny(message: string): LeashError {
  return new LeashError('ERR_LEASH_DENIED', `leash refused a session operation: ${message}`);
}

export function createSessionTable(options: SessionTableOptions): SessionTable {
  const now = options.now ?? Date.now;
  const max = options.max ?? 100_000;
  const entries = new Map<string, Entry>();

  const principalIn = (data: unknown): string | undefined => {
    let value = data;
    for (const key of options.principalPath) {
      if (typeof value !== 'object' || value === null) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  };
  const live = (sid: string): Entry | undefined => {
    const entry = entries.get(sid);
    if (entry === undefined) return undefined;
    if (entry.expires !== undefined && entry.expires <= now()) {
      entries.delete(sid);
      return undefined;
    }
    return entry;
  };

  return {
    principalOf(sessionIds) {
      for (const sid of sessionIds) {
        const principal = live(sid)?.principal;
        if (principal !== undefined) return principal;
      }
      return undefined;
    },
    handle(op, sid, json, record) {
      if (record === undefined) throw deny(`${op} outside a request (no valid token)`);
      if (typeof sid !== 'string' || sid.length === 0 || sid.length > 256)
        throw deny(`${op} without a session id`);
      const own = record.sessions.includes(sid);
      const existing = live(sid);
      switch (op) {
        case 'get':
          if (!own)
            throw deny(`a worker of ${record.route} read a session the request does not carry`);
          return existing?.json ?? null;
        case 'destroy':
          if (!own && existing !== undefined)
            throw deny(
              `a worker of ${record.route} destroyed a session the request does not carry`,
            );
          entries.delete(sid);
          return undefined;
        case 'set':
        case 'touch': {
          if (!own && existing !== undefined)
            throw deny(`a worker of ${record.route} wrote a session the request does not carry`);
          if (typeof json !== 'string' || json.length > 1_000_000)
            throw deny(`${op} without session data`);
          let data: { cookie?: { expires?: unknown } };
          try {
            data = JSON.parse(json);
          } catch {
            throw deny(`${op} with data that is not JSON`);
          }
          if (op === 'touch') {
            if (existing === undefined) return undefined;
            const expires = expiryOf(data);
            entries.set(sid, { ...existing, expires });
            return undefined;
          }
          const principal = principalIn(data);
          const before = existing?.principal ?? record.principal;
          if (
            principal !== undefined &&
            principal !== before &&
            !options.loginRoutes.has(record.route)
          )
            throw deny(
              `${record.route} is not a login route (isolate.loginRoutes) and may not change who is logged in`,
            );
          entries.delete(sid);
          entries.set(sid, { json, principal, expires: expiryOf(data) });
          if (entries.size > max) entries.delete(entries.keys().next().value!);
          return undefined;
        }
        default:
          throw deny(`unknown operation ${JSON.stringify(op)}`);
      }
    },
    get size() {
      return entries.size;
    },
  };
}

function expiryOf(data: { cookie?: { expires?: unknown } }): number | undefined {
  const expires = data.cookie?.expires;
  if (typeof expires !== 'string') return undefined;
  const t = Date.parse(expires);
  return Number.isNaN(t) ? undefined : t;
}
