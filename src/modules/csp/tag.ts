/**
 * @module
 * Report tags: every report URL leash puts in a page's CSP carries a short-lived tag naming the
 * page route that served it, signed with HMAC-SHA-256. Reports are attacker-controlled, so a
 * report is learned only under the route its valid tag names; without one it is dropped.
 *
 * A tag is `<expiry, base36 seconds>.<route, base64url>.<MAC, 16 bytes base64url>`. The key comes
 * from the config (`csp.key`) or from `leash.csp.key` next to the policy file, created (mode 0600)
 * on first use: never from the code.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { internal } from '../../attribution/internal.ts';
import { LeashError } from '../../errors.ts';

export const KEY_FILE = 'leash.csp.key';
const MAC_BYTES = 16;
const MAX_ROUTE = 512;

export interface Tagger {
  /** A tag for `route`, valid for the configured time from `now` (ms). */
  sign(route: string, now?: number): string;
  /** The route a tag names, or a reason it is refused. */
  verify(tag: string, now?: number): { ok: true; route: string } | { ok: false; reason: string };
}

export function createTagger(key: Buffer | string, ttlSeconds: number): Tagger {
  const secret = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (secret.length < 32) throw new TypeError('a report tag key has at least 32 bytes');
  const mac = (expiry: string, route: string) =>
    createHmac('sha256', secret)
      .update(`leash-csp-tag\n${expiry}\n${route}`)
      .digest()
      .subarray(0, MAC_BYTES);
  return {
    sign(route, now = Date.now()) {
      const expiry = Math.ceil(now / 1000 + ttlSeconds).toString(36);
      return `${expiry}.${Buffer.from(route, 'utf8').toString('base64url')}.${mac(expiry, route).toString('base64url')}`;
    },
    verify(tag, now = Date.now()) {
      if (tag.length > 2 * MAX_ROUTE) return { ok: false, reason: 'tag too long' };
      const parts = tag.split('.');
      if (parts.length !== 3) return { ok: false, reason: 'not a tag' };
      const [expiry, encoded, given] = parts as [string, string, string];
      if (!/^[0-9a-z]{1,10}$/.test(expiry) || !/^[A-Za-z0-9_-]*$/.test(encoded + given))
        return { ok: false, reason: 'not a tag' };
      const route = Buffer.from(encoded, 'base64url').toString('utf8');
      const actual = Buffer.from(given, 'base64url');
      const expected = mac(expiry, route);
      if (actual.length !== expected.length || !timingSafeEqual(actual, expected))
        return { ok: false, reason: 'bad signature' };
      if (Number.parseInt(expiry, 36) * 1000 < now) return { ok: false, reason: 'expired' };
      return { ok: true, route };
    },
  };
}

/**
 * The tag key: the configured one, else the key file next to the policy, created with mode 0600
 * when missing. A key file that others may read is refused (it would let them forge reports).
 */
export function loadKey(policyFile: string, configured: string | undefined): Buffer {
  if (configured !== undefined) return Buffer.from(configured, 'utf8');
  const file = join(dirname(policyFile), KEY_FILE);
  return internal(() => {
    if (!existsSync(file)) {
      const key = randomBytes(32).toString('base64url');
      try {
        writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
      } catch (error) {
        // Another process of the service made it first: use theirs.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw keyError(file, error);
      }
      chmodSync(file, 0o600);
    }
    let text: string;
    try {
      if ((statSync(file).mode & 0o077) !== 0) {
        throw new LeashError(
          'ERR_LEASH_CONFIG',
          `${file}: the csp key file may be read by others; run chmod 600 ${file}`,
          { file },
        );
      }
      text = readFileSync(file, 'utf8').trim();
    } catch (error) {
      if (error instanceof LeashError) throw error;
      throw keyError(file, error);
    }
    if (text.length < 32)
      throw new LeashError('ERR_LEASH_CONFIG', `${file}: a csp key has at least 32 characters`, {
        file,
      });
    return Buffer.from(text, 'utf8');
  });
}

function keyError(file: string, error: unknown): LeashError {
  return new LeashError(
    'ERR_LEASH_CONFIG',
    `${file}: cannot read or create the csp key: ${(error as Error).message}`,
    { file },
  );
}
