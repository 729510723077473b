/**
 * @module
 * The seeded accounts and password hashing. Passwords are stored as scrypt hashes (node:crypto);
 * the plain passwords live here only because this is a demo that its own workloads log into.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';

export interface SeedUser {
  name: string;
  password: string;
}

/** Enough users that a workload can learn from some and a held-out workload can use others. */
export const SEED_USERS: readonly SeedUser[] = [
  { name: 'alice', password: 'alice-correct-horse' },
  { name: 'bob', password: 'bob-battery-staple' },
  { name: 'carol', password: 'carol-purple-monkey' },
  { name: 'dave', password: 'dave-silver-kettle' },
  { name: 'erin', password: 'erin-quiet-harbor' },
  { name: 'frank', password: 'frank-paper-lantern' },
];

export function passwordOf(name: string): string {
  const user = SEED_USERS.find((u) => u.name === name);
  if (!user) throw new Error(`no seeded user ${name}`);
  return user.password;
}

const KEY_LENGTH = 32;

/** `saltHex:hashHex`; synchronous because it only runs while seeding at startup. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `${salt.toString('hex')}:${scryptSync(password, salt, KEY_LENGTH).toString('hex')}`;
}

/** Asynchronous so that a login does not block other requests for the ~50 ms scrypt takes. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [saltHex, hashHex] = stored.split(':');
  if (saltHex === undefined || hashHex === undefined) return false;
  const expected = Buffer.from(hashHex, 'hex');
  const actual = await new Promise<Buffer>((resolve, reject) => {
    scrypt(password, Buffer.from(saltHex, 'hex'), KEY_LENGTH, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * The old scheme, kept in `users.legacy_hash` for `POST /login-legacy`: an unsalted SHA-256 in
 * hex. Deliberately weak (see routes/sql-legacy.ts); the real login uses the scrypt hash.
 */
export function legacyHash(password: string): string {
  return createHash('sha256').update(password).digest('hex');
}
