/**
 * @module
 * What the sql module never writes in clear: a slot value that came from the request, the
 * principal or an earlier result (the check needs its source, not the value), and a value that
 * looks secret or personal (an e-mail address, a password hash, a token, a value bound to a column
 * named like `password`, `token`, `secret`, `hash`). The policy is meant for git; these go into it
 * as digests (docs/policy-format.md, "SQL").
 */
import { createHash } from 'node:crypto';

const SECRET_WORDS = new Set([
  'pass',
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'secret',
  'token',
  'hash',
  'salt',
  'apikey',
  'credential',
  'credentials',
  'email',
  'mail',
  'ssn',
  'otp',
  'pin',
]);

/** `password_hash`, `apiKey`, `EMAIL` → its words; a secret word or `api` + `key` makes it secret. */
function isSecretColumn(column: string): boolean {
  const words = column
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  return words.some((w, i) => SECRET_WORDS.has(w) || (w === 'api' && words[i + 1] === 'key'));
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const HASH_FORMAT = /^(\$(2[abxy]?|argon2(id|i|d)|scrypt|pbkdf2[\w-]*|[156])\$|eyJ[\w-]+\.)/;
const HEX = /^(?:[0-9a-f]{32,}|[0-9A-F]{32,})$/;
const SALTED_HEX = /^[0-9a-f]{16,}:[0-9a-f]{16,}$/i;

/** Shannon entropy in bits per character. */
function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Whether a value reads like a secret or personal datum: never written in clear. */
export function looksSecret(value: string): boolean {
  if (EMAIL.test(value) || HASH_FORMAT.test(value) || HEX.test(value) || SALTED_HEX.test(value))
    return true;
  // A long run without spaces and with many distinct characters: an API key, a session id.
  return value.length >= 20 && !/\s/.test(value) && entropy(value) >= 3.5;
}

/**
 * The slots of a template whose value is bound to a column named like a secret: `password = $2`,
 * `$2 = token`, `INSERT INTO users (name, password_hash) VALUES ($1, $2)`. Read from the template
 * text, which names columns as the statement did (quoted or not).
 */
export function secretSlots(template: string): Set<string> {
  const out = new Set<string>();
  const compare = /"?(\w+)"?\s*(?:=|<>|!=|\bI?LIKE\b)\s*(\$\d+)\b/gi;
  for (const [, column, slot] of template.matchAll(compare))
    if (isSecretColumn(column!)) out.add(slot!);
  const reverse = /(\$\d+)\s*(?:=|<>|!=)\s*"?(\w+)"?/g;
  for (const [, slot, column] of template.matchAll(reverse))
    if (isSecretColumn(column!)) out.add(slot!);
  const insert = /\(([^()]*)\)\s*VALUES\s*\(([^()]*)\)/gi;
  for (const [, columns, values] of template.matchAll(insert)) {
    const names = columns!.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
    values!.split(',').forEach((value, i) => {
      const slot = value.trim();
      if (/^\$\d+$/.test(slot) && isSecretColumn(names[i] ?? '')) out.add(slot);
    });
  }
  return out;
}

/** Characters of a digest kept for a value the check only tells apart (one with a source). */
export const SHORT_DIGEST = 2;
/** Characters of a digest kept for a value the check must match exactly (a secret constant). */
export const FULL_DIGEST = 22;

/** A digest of a slot value: base64url of SHA-256, cut to `length` characters. */
export function valueDigest(value: string, length: number): string {
  return createHash('sha256')
    .update(`leash-sql-value\0${value}`)
    .digest('base64url')
    .slice(0, length);
}
