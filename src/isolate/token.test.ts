import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLeashError } from '../errors.ts';
import { createTokenIssuer } from './token.ts';

const CLAIMS = { rid: '1', route: 'GET /notes', principal: 'alice' } as const;

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    set: (to: number) => {
      t = to;
    },
  };
}

/** Asserts that verifying `token` is refused with ERR_LEASH_TOKEN and a message matching `reason`. */
function assertRefused(verify: () => unknown, reason: RegExp): void {
  assert.throws(verify, (error: unknown) => {
    assert.ok(isLeashError(error, 'ERR_LEASH_TOKEN'), String(error));
    assert.match(error.message, /^isolation token refused: /);
    assert.match(error.message, reason);
    return true;
  });
}

function parts(token: string): [string, string, string] {
  const split = token.split('.');
  assert.equal(split.length, 3);
  return split as [string, string, string];
}

test('a minted token verifies with the claims it was made with and an expiry ttl ahead', () => {
  const time = clock();
  const issuer = createTokenIssuer({ ttlMs: 5000, now: time.now });
  const token = issuer.mint(CLAIMS);
  assert.match(token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(issuer.verify(token), { ...CLAIMS, exp: 1_005_000 });
});

test('an anonymous request’s token carries a null principal', () => {
  const issuer = createTokenIssuer();
  const token = issuer.mint({ rid: '2', route: 'GET /', principal: null });
  assert.equal(issuer.verify(token).principal, null);
});

test('a token with one character of its signature changed is refused as forged', () => {
  const issuer = createTokenIssuer();
  const [version, payload, signature] = parts(issuer.mint(CLAIMS));
  const changed = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
  assertRefused(() => issuer.verify(`${version}.${payload}.${changed}`), /forged/);
});

test('a token whose payload names another route but keeps the original signature is refused as forged', () => {
  const issuer = createTokenIssuer();
  const [version, payload, signature] = parts(issuer.mint(CLAIMS));
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  assert.equal(claims.route, 'GET /notes');
  const rewritten = Buffer.from(JSON.stringify({ ...claims, route: 'DELETE /notes/:id' })).toString(
    'base64url',
  );
  assertRefused(() => issuer.verify(`${version}.${rewritten}.${signature}`), /forged/);
});

test('a token whose payload names another principal but keeps the original signature is refused as forged', () => {
  const issuer = createTokenIssuer();
  const [version, payload, signature] = parts(issuer.mint(CLAIMS));
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  const rewritten = Buffer.from(JSON.stringify({ ...claims, principal: 'bob' })).toString(
    'base64url',
  );
  assertRefused(() => issuer.verify(`${version}.${rewritten}.${signature}`), /forged/);
});

test('a token another issuer made is refused as forged', () => {
  const mine = createTokenIssuer();
  const theirs = createTokenIssuer();
  assertRefused(() => mine.verify(theirs.mint(CLAIMS)), /forged/);
});

test('strings that are not tokens are refused as malformed', () => {
  const issuer = createTokenIssuer();
  const [, payload, signature] = parts(issuer.mint(CLAIMS));
  assertRefused(() => issuer.verify(''), /malformed/);
  assertRefused(() => issuer.verify('not-a-token'), /malformed/);
  assertRefused(() => issuer.verify(`v2.${payload}.${signature}`), /malformed/);
  assertRefused(() => issuer.verify(`v1.${payload}.${signature}.extra`), /malformed/);
  assertRefused(() => issuer.verify(`v1.${payload}`), /malformed/);
  assertRefused(() => issuer.verify(`v1.e30x.${signature}`), /malformed payload/);
  assertRefused(() => issuer.verify(`v1..${signature}`), /malformed payload/);
});

test('a token is refused as expired once the clock reaches its expiry, naming its request', () => {
  const time = clock(0);
  const issuer = createTokenIssuer({ ttlMs: 1000, now: time.now });
  const token = issuer.mint({ ...CLAIMS, rid: 'r42' });
  time.set(999);
  assert.equal(issuer.verify(token).rid, 'r42');
  time.set(1000);
  assertRefused(() => issuer.verify(token), /expired \(request r42\)/);
  time.set(1500);
  assertRefused(() => issuer.verify(token), /expired/);
});

test('a token made with the key before one rotation still verifies', () => {
  const time = clock(0);
  const issuer = createTokenIssuer({ ttlMs: 1000, rotateMs: 1000, now: time.now });
  time.set(900);
  const old = issuer.mint(CLAIMS);
  // The key changes at 1000; the token, made with the previous key, lives until 1900.
  time.set(1200);
  const fresh = issuer.mint(CLAIMS);
  assert.notEqual(
    JSON.parse(Buffer.from(parts(old)[1], 'base64url').toString('utf8')).k,
    JSON.parse(Buffer.from(parts(fresh)[1], 'base64url').toString('utf8')).k,
    'the key rotated between the two tokens',
  );
  assert.equal(issuer.verify(old).route, 'GET /notes');
  assert.equal(issuer.verify(fresh).route, 'GET /notes');
});

test('a token made two rotations ago is refused: its key is gone', () => {
  const time = clock(0);
  const issuer = createTokenIssuer({ ttlMs: 1000, rotateMs: 1000, now: time.now });
  time.set(900);
  const old = issuer.mint(CLAIMS);
  time.set(1200);
  assert.equal(issuer.verify(old).rid, '1');
  time.set(2100);
  const middle = issuer.mint(CLAIMS);
  time.set(2300);
  // The second rotation drops the first key: the token is refused for its key, before its expiry.
  assertRefused(() => issuer.verify(old), /forged/);
  assert.equal(issuer.verify(middle).rid, '1');
});

test('the rotation period is never shorter than a token’s life', () => {
  const time = clock(0);
  // rotateMs below ttlMs: a token must still outlive the rotation after it was made.
  const issuer = createTokenIssuer({ ttlMs: 1000, rotateMs: 10, now: time.now });
  time.set(990);
  const token = issuer.mint(CLAIMS);
  time.set(1500);
  issuer.mint(CLAIMS);
  time.set(1980);
  assert.equal(issuer.verify(token).rid, '1');
});

test('a signed-looking token whose payload is JSON null is refused as malformed', () => {
  const issuer = createTokenIssuer();
  const [, , signature] = parts(issuer.mint(CLAIMS));
  const nullPayload = Buffer.from('null').toString('base64url');
  assertRefused(() => issuer.verify(`v1.${nullPayload}.${signature}`), /malformed/);
});
