import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLeashError } from '../errors.ts';
import { createRequestRegistry, type RequestRecord } from './requests.ts';
import { createSessionTable, sessionIdsOf, sessionPrincipalPath } from './sessions.ts';

/** express-session's cookie for a session id, as a browser sends it back. */
function cookie(sid: string, name = 'connect.sid'): string {
  return `${name}=${encodeURIComponent(`s:${sid}.kP3nYxR2bQ+/wLz0aV9eXyZ12abcdEFgh`)}`;
}

/** A request record as the dispatcher registers it. */
function request(
  route: string,
  sessions: readonly string[],
  principal: string | undefined = undefined,
): RequestRecord {
  return createRequestRegistry().add({
    rid: `${route}:${sessions.join(',')}`,
    route,
    group: 'g1',
    principal,
    inputs: new Map(),
    sessions,
    expires: Number.MAX_SAFE_INTEGER,
  });
}

/** Session data as express-session serialises it. */
function data(user?: string, expires?: string): string {
  return JSON.stringify({
    cookie: { originalMaxAge: 3_600_000, httpOnly: true, path: '/', expires },
    ...(user === undefined ? {} : { user }),
  });
}

function table(now?: () => number) {
  return createSessionTable({
    principalPath: ['user'],
    loginRoutes: new Set(['POST /login']),
    ...(now === undefined ? {} : { now }),
  });
}

function assertDenied(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isLeashError(error, 'ERR_LEASH_DENIED'), String(error));
    assert.match(error.message, /^leash refused a session operation: /);
    assert.match(error.message, reason);
    return true;
  });
}

test('the ids of signed express-session cookies are read from a Cookie header', () => {
  assert.deepEqual(sessionIdsOf(cookie('abc123')), ['abc123']);
  assert.deepEqual(sessionIdsOf(`theme=dark; ${cookie('abc123')}; lang=en`), ['abc123']);
  assert.deepEqual(sessionIdsOf(`${cookie('one')}; ${cookie('two', 'other.sid')}`), ['one', 'two']);
  // Unencoded, as some clients send it.
  assert.deepEqual(sessionIdsOf('connect.sid=s:raw-id_1.c2lnbmF0dXJl'), ['raw-id_1']);
});

test('cookies that are not signed session ids carry none', () => {
  assert.deepEqual(sessionIdsOf(undefined), []);
  assert.deepEqual(sessionIdsOf(''), []);
  assert.deepEqual(sessionIdsOf('connect.sid=abc123'), []);
  assert.deepEqual(sessionIdsOf('connect.sid=s%3Aabc123'), []);
  assert.deepEqual(sessionIdsOf('connect.sid=s%3Aabc.sig%20with%20space'), []);
  assert.deepEqual(sessionIdsOf('connect.sid=%E0%A4%A'), []);
  assert.deepEqual(sessionIdsOf('novalue; theme=dark'), []);
});

test('the principal setting names a path under the session', () => {
  assert.deepEqual(sessionPrincipalPath('req.session.user'), ['user']);
  assert.deepEqual(sessionPrincipalPath('session.user'), ['user']);
  assert.deepEqual(sessionPrincipalPath('request.session.passport.user'), ['passport', 'user']);
  assert.equal(sessionPrincipalPath('req.user.id'), undefined);
  assert.equal(sessionPrincipalPath('req.session'), undefined);
  assert.equal(sessionPrincipalPath(undefined), undefined);
  assert.equal(
    sessionPrincipalPath(() => 'alice'),
    undefined,
  );
});

test('a worker reads and writes the sessions its request carries', () => {
  const sessions = table();
  const login = request('POST /login', ['s1']);
  assert.equal(sessions.handle('get', 's1', undefined, login), null);
  assert.equal(sessions.handle('set', 's1', data('alice'), login), undefined);
  const next = request('GET /notes', ['s1'], 'alice');
  assert.equal(sessions.handle('get', 's1', undefined, next), data('alice'));
  assert.equal(sessions.handle('set', 's1', data('alice'), next), undefined);
  assert.equal(sessions.size, 1);
});

test('a worker may not read a session its request does not carry, even one that does not exist', () => {
  const sessions = table();
  sessions.handle('set', 's1', data('alice'), request('POST /login', ['s1']));
  const other = request('GET /notes', ['s2']);
  assertDenied(
    () => sessions.handle('get', 's1', undefined, other),
    /read a session the request does not carry/,
  );
  assertDenied(() => sessions.handle('get', 'unknown', undefined, other), /does not carry/);
});

test('a worker may not overwrite or touch another request’s existing session', () => {
  const sessions = table();
  sessions.handle('set', 's1', data('alice'), request('POST /login', ['s1']));
  const mallory = request('GET /notes', ['s2'], 'mallory');
  assertDenied(
    () => sessions.handle('set', 's1', data('alice'), mallory),
    /wrote a session the request does not carry/,
  );
  assertDenied(() => sessions.handle('touch', 's1', data('alice'), mallory), /does not carry/);
  assert.equal(sessions.principalOf(['s1']), 'alice');
});

test('a worker may save a brand-new session its request does not carry (a regenerated id)', () => {
  const sessions = table();
  const anonymous = request('GET /notes', []);
  assert.equal(sessions.handle('set', 'fresh', data(), anonymous), undefined);
  assert.equal(sessions.size, 1);
  // Once it exists, it is another request's.
  assertDenied(
    () => sessions.handle('set', 'fresh', data(), request('GET /notes', ['x'])),
    /does not carry/,
  );
});

test('outside a login route, a save may not change who is logged in', () => {
  const sessions = table();
  sessions.handle('set', 's1', data('alice'), request('POST /login', ['s1']));
  const notes = request('POST /notes', ['s1'], 'alice');
  assertDenied(
    () => sessions.handle('set', 's1', data('bob'), notes),
    /POST \/notes is not a login route \(isolate\.loginRoutes\)/,
  );
  assert.equal(sessions.principalOf(['s1']), 'alice');
  // A new session saved outside a login route may not name anyone but the request's principal.
  assertDenied(() => sessions.handle('set', 'fresh', data('bob'), notes), /not a login route/);
  assert.equal(sessions.handle('set', 'fresh', data('alice'), notes), undefined);
  // Logging out (no principal in the data) is not a change of principal.
  assert.equal(sessions.handle('set', 's1', data(), notes), undefined);
  assert.equal(sessions.principalOf(['s1']), undefined);
});

test('a login route may change who is logged in', () => {
  const sessions = table();
  sessions.handle('set', 's1', data('alice'), request('POST /login', ['s1']));
  assert.equal(
    sessions.handle('set', 's1', data('bob'), request('POST /login', ['s1'], 'alice')),
    undefined,
  );
  assert.equal(sessions.principalOf(['s1']), 'bob');
});

test('a worker may not destroy another request’s existing session; its own or an unknown one it may', () => {
  const sessions = table();
  sessions.handle('set', 's1', data('alice'), request('POST /login', ['s1']));
  sessions.handle('set', 's2', data('bob'), request('POST /login', ['s2']));
  assertDenied(
    () => sessions.handle('destroy', 's1', undefined, request('GET /logout', ['s2'])),
    /destroyed a session the request does not carry/,
  );
  assert.equal(sessions.principalOf(['s1']), 'alice');
  assert.equal(
    sessions.handle('destroy', 's2', undefined, request('GET /logout', ['s2'])),
    undefined,
  );
  assert.equal(sessions.principalOf(['s2']), undefined);
  assert.equal(
    sessions.handle('destroy', 'never', undefined, request('GET /logout', [])),
    undefined,
  );
  assert.equal(sessions.size, 1);
});

test('principalOf reads the principal path of the first session that names one', () => {
  const passport = createSessionTable({
    principalPath: ['passport', 'user'],
    loginRoutes: new Set(['POST /login']),
  });
  const login = request('POST /login', ['a', 'b']);
  passport.handle('set', 'a', JSON.stringify({ cookie: {} }), login);
  passport.handle('set', 'b', JSON.stringify({ cookie: {}, passport: { user: 42 } }), login);
  assert.equal(passport.principalOf(['a', 'b']), '42');
  assert.equal(passport.principalOf(['a']), undefined);
  assert.equal(passport.principalOf(['missing']), undefined);
  assert.equal(passport.principalOf([]), undefined);
  // A principal path that reaches an object names no one.
  passport.handle(
    'set',
    'c',
    JSON.stringify({ passport: { user: { id: 1 } } }),
    request('POST /login', ['c']),
  );
  assert.equal(passport.principalOf(['c']), undefined);
});

test('a session past its cookie’s expiry is gone', () => {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const sessions = table(() => t);
  const login = request('POST /login', ['s1']);
  sessions.handle('set', 's1', data('alice', '2026-01-01T01:00:00.000Z'), login);
  assert.equal(sessions.principalOf(['s1']), 'alice');
  // A touch moves the expiry.
  sessions.handle('touch', 's1', data('alice', '2026-01-01T02:00:00.000Z'), login);
  t = Date.parse('2026-01-01T01:30:00Z');
  assert.equal(sessions.principalOf(['s1']), 'alice');
  t = Date.parse('2026-01-01T02:00:00Z');
  assert.equal(sessions.principalOf(['s1']), undefined);
  assert.equal(sessions.handle('get', 's1', undefined, login), null);
});

test('an operation with no request record (no valid token) is refused', () => {
  const sessions = table();
  assertDenied(
    () => sessions.handle('get', 's1', undefined, undefined),
    /get outside a request \(no valid token\)/,
  );
  assertDenied(() => sessions.handle('set', 's1', data('alice'), undefined), /no valid token/);
  assert.equal(sessions.size, 0);
});

test('malformed operations are refused', () => {
  const sessions = table();
  const own = request('POST /login', ['s1']);
  assertDenied(() => sessions.handle('get', '', undefined, own), /without a session id/);
  assertDenied(() => sessions.handle('get', 42, undefined, own), /without a session id/);
  assertDenied(
    () => sessions.handle('get', 'x'.repeat(257), undefined, own),
    /without a session id/,
  );
  assertDenied(() => sessions.handle('set', 's1', undefined, own), /set without session data/);
  assertDenied(() => sessions.handle('set', 's1', '{not json', own), /not JSON/);
  assertDenied(() => sessions.handle('all', 's1', undefined, own), /unknown operation "all"/);
});

test('the oldest sessions go first once the table is full', () => {
  const sessions = createSessionTable({ principalPath: ['user'], loginRoutes: new Set(), max: 2 });
  const anonymous = request('GET /', []);
  for (const sid of ['a', 'b', 'c']) sessions.handle('set', sid, data(), anonymous);
  assert.equal(sessions.size, 2);
  assert.equal(sessions.handle('get', 'a', undefined, request('GET /', ['a'])), null);
  assert.equal(sessions.handle('get', 'c', undefined, request('GET /', ['c'])), data());
});
