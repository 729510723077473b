/**
 * @module
 * The token that carries a request's identity from the dispatcher to the database proxy through a
 * worker that must not be able to change it (Passe's HMAC token). It binds the request id, the
 * route, the principal and an expiry, and is MACed with a key that lives only in the supervisor's
 * memory: a fresh random key at start, rotated, the previous key still accepted until the tokens
 * made with it have expired. A worker holds the token of the request it serves and nothing else.
 *
 * Format: `v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256)>`, no characters a SQL comment or
 * an HTTP header would need escaped.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { LeashError } from '../errors.ts';

export interface TokenClaims {
  /** Request id, unique per supervisor. */
  readonly rid: string;
  /** The route template (scope) the dispatcher matched. */
  readonly route: string;
  /** The principal the dispatcher resolved, or null for an anonymous request. */
  readonly principal: string | null;
  /** Expiry, milliseconds since the epoch. */
  readonly exp: number;
}

export interface TokenKeysOptions {
  /** How long a token lives (a request that runs longer loses database access). */
  readonly ttlMs?: number;
  /** How often the key changes. */
  readonly rotateMs?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

export interface TokenIssuer {
  mint(claims: Omit<TokenClaims, 'exp'>): string;
  /** The claims of a token made here and not expired; else ERR_LEASH_TOKEN saying why. */
  verify(token: string): TokenClaims;
}

const DEFAULT_TTL_MS = 5 * 60_000;

interface Key {
  readonly id: string;
  readonly secret: Buffer;
  readonly since: number;
}

function newKey(now: number): Key {
  return { id: randomBytes(4).toString('hex'), secret: randomBytes(32), since: now };
}

function mac(secret: Buffer, text: string): Buffer {
  return createHmac('sha256', secret).update(text).digest();
}

function tokenError(message: string): LeashError {
  return new LeashError('ERR_LEASH_TOKEN', `isolation token refused: ${message}`);
}

export function createTokenIssuer(options: TokenKeysOptions = {}): TokenIssuer {
  const ttl = options.ttlMs ?? DEFAULT_TTL_MS;
  const rotate = Math.max(options.rotateMs ?? 10 * 60_000, ttl);
  const now = options.now ?? Date.now;
  let current = newKey(now());
  let previous: Key | undefined;
  const keyNow = (): Key => {
    const t = now();
    if (t - current.since >= rotate) {
      previous = current;
      current = newKey(t);
    }
    return current;
  };
  return {
    mint(claims) {
      const key = keyNow();
      const payload = Buffer.from(
        JSON.stringify({ ...claims, exp: now() + ttl, k: key.id }),
      ).toString('base64url');
      return `v1.${payload}.${mac(key.secret, payload).toString('base64url')}`;
    },
    verify(token) {
      const parts = token.split('.');
      if (parts.length !== 3 || parts[0] !== 'v1') throw tokenError('malformed');
      const [, payload, signature] = parts as [string, string, string];
      let claims: TokenClaims & { k?: unknown };
      try {
        claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        throw tokenError('malformed payload');
      }
      if (typeof claims !== 'object' || claims === null) throw tokenError('malformed payload');
      keyNow();
      const key = [current, previous].find((k) => k !== undefined && k.id === claims.k);
      const given = Buffer.from(signature, 'base64url');
      const expected = key === undefined ? undefined : mac(key.secret, payload);
      if (
        expected === undefined ||
        given.length !== expected.length ||
        !timingSafeEqual(given, expected)
      )
        throw tokenError('forged (the signature does not match a key of this supervisor)');
      if (
        typeof claims.rid !== 'string' ||
        typeof claims.route !== 'string' ||
        (claims.principal !== null && typeof claims.principal !== 'string') ||
        typeof claims.exp !== 'number'
      )
        throw tokenError('malformed claims');
      if (claims.exp <= now()) throw tokenError(`expired (request ${claims.rid})`);
      return { rid: claims.rid, route: claims.route, principal: claims.principal, exp: claims.exp };
    },
  };
}
