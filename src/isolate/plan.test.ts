import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Policy } from '../core/policy.ts';
import { isLeashError } from '../errors.ts';
import { registryWith } from '../modules/builtin.ts';
import { parsePolicy } from '../store/policy-file.ts';
import type { KernelRules } from '../supervisor/kernel/rules.ts';
import {
  frontEndpoint,
  grantsDatabaseFile,
  kernelPathsCoveringFiles,
  reachesDatabaseFile,
  workerKernelRules,
} from './plan.ts';

type Runtime = Record<string, Record<string, Record<string, string[]>>>;

function policy(runtime: Runtime): Policy {
  return parsePolicy(JSON.stringify({ version: 1, runtime }), {
    file: 'leash.policy.json',
    modules: registryWith(),
  });
}

function listening(...keys: string[]): Policy {
  return policy({
    '@startup': { app: { 'net.listen': keys, 'fs.read': ['/srv/app/**'] } },
    'GET /weather': { app: { 'net.connect': ['api.example.com:443'] } },
  });
}

function assertIsolateError(fn: () => unknown, reason: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isLeashError(error, 'ERR_LEASH_ISOLATE'), String(error));
    assert.match(error.message, /needs the service to listen on one fixed port/);
    assert.match(error.message, reason);
    return true;
  });
}

test('the front endpoint is the one fixed port the service listens on', () => {
  assert.deepEqual(frontEndpoint(listening('127.0.0.1:3000')), { host: '127.0.0.1', port: 3000 });
  assert.deepEqual(frontEndpoint(listening('0.0.0.0:8080')), { host: '0.0.0.0', port: 8080 });
});

test('an IPv6 front endpoint is given without its brackets', () => {
  assert.deepEqual(frontEndpoint(listening('[::1]:8080')), { host: '::1', port: 8080 });
});

test('a random port beside the fixed one is not a front door', () => {
  assert.deepEqual(frontEndpoint(listening('127.0.0.1:3000', '127.0.0.1:0')), {
    host: '127.0.0.1',
    port: 3000,
  });
});

test('a net.listen rule of a route scope counts too', () => {
  const p = policy({ 'POST /start': { app: { 'net.listen': ['127.0.0.1:4000'] } } });
  assert.deepEqual(frontEndpoint(p), { host: '127.0.0.1', port: 4000 });
});

test('a policy that listens nowhere has no front endpoint', () => {
  assertIsolateError(
    () => frontEndpoint(policy({ '@startup': { app: { 'fs.read': ['/srv/app/**'] } } })),
    /net\.listen rules: none\)/,
  );
  assertIsolateError(
    () => frontEndpoint(parsePolicy('{"version":1}', { file: 'p', modules: registryWith() })),
    /none/,
  );
});

test('a wildcard or random port is no front endpoint', () => {
  assertIsolateError(() => frontEndpoint(listening('127.0.0.1:*')), /127\.0\.0\.1:\*/);
  assertIsolateError(() => frontEndpoint(listening('127.0.0.1:0')), /127\.0\.0\.1:0/);
});

test('two fixed ports are refused, naming both', () => {
  assertIsolateError(
    () => frontEndpoint(listening('127.0.0.1:3000', '127.0.0.1:3001')),
    /127\.0\.0\.1:3000, 127\.0\.0\.1:3001/,
  );
});

const DB = '/srv/data/app.db';

test('a file rule on the database file or its journal, WAL or shared memory reaches it', () => {
  for (const resource of [DB, `${DB}-journal`, `${DB}-wal`, `${DB}-shm`]) {
    assert.equal(
      reachesDatabaseFile(['@startup', 'app', 'fs.write', resource], [DB]),
      true,
      resource,
    );
    assert.equal(reachesDatabaseFile(['GET /', 'app', 'fs.read', resource], [DB]), true, resource);
  }
});

test('a glob that covers the database file reaches it', () => {
  for (const resource of [
    '/srv/data/*',
    '/srv/data/**',
    '/srv/**',
    '/srv/data/*.db',
    '/srv/data/app.*',
  ])
    assert.equal(
      reachesDatabaseFile(['@startup', 'app', 'fs.write', resource], [DB]),
      true,
      resource,
    );
  // Only the WAL matches this one: it still reaches the database.
  assert.equal(reachesDatabaseFile(['@startup', 'app', 'fs.read', '/srv/data/*-wal'], [DB]), true);
});

test('file rules on other files, and rules of other capabilities, do not reach it', () => {
  for (const resource of [
    '/srv/data/other.db',
    '/srv/data/app.dbx',
    '/srv/data/app.db.bak',
    '/srv/data/exports/*',
    '/srv/dat*',
    '/srv/app/**',
  ])
    assert.equal(
      reachesDatabaseFile(['@startup', 'app', 'fs.write', resource], [DB]),
      false,
      resource,
    );
  assert.equal(
    reachesDatabaseFile(['@startup', 'app', 'net.connect', '127.0.0.1:5432'], [DB]),
    false,
  );
  assert.equal(reachesDatabaseFile(['@startup', 'app', 'child.spawn', DB], [DB]), false);
  assert.equal(reachesDatabaseFile(['@startup', 'app', 'fs.write'], [DB]), false);
  assert.equal(reachesDatabaseFile(['@startup', 'app', 'fs.write', DB], []), false);
});

test('any of several database files is reached', () => {
  const files = ['/srv/a.db', '/var/lib/b.sqlite'];
  assert.equal(reachesDatabaseFile(['@startup', 'app', 'fs.read', '/var/lib/*'], files), true);
  assert.equal(reachesDatabaseFile(['@startup', 'app', 'fs.read', '/srv/a.db-wal'], files), true);
  assert.equal(reachesDatabaseFile(['@startup', 'app', 'fs.read', '/tmp/*'], files), false);
});

test('a worker may have a database file opened only where some scope grants writing it', () => {
  const p = policy({
    '@startup': { app: { 'fs.write': ['/srv/data/*'], 'fs.read': ['/srv/ro/*'] } },
    'POST /notes': { 'better-sqlite3': { 'fs.write': ['/srv/other.db'] } },
  });
  assert.equal(grantsDatabaseFile(p, '/srv/data/app.db'), true);
  assert.equal(grantsDatabaseFile(p, '/srv/other.db'), true);
  assert.equal(grantsDatabaseFile(p, '/srv/ro/app.db'), false);
  assert.equal(grantsDatabaseFile(p, '/etc/passwd'), false);
  assert.equal(grantsDatabaseFile(policy({}), '/srv/data/app.db'), false);
});

const GROUP: KernelRules = {
  read: ['/srv/app', '/usr/lib'],
  write: ['/srv/data/exports'],
  exec: ['/usr/bin/node'],
  bind: [3000, 9229],
  connect: [5432, 443, 80],
  bindAny: true,
  connectAny: false,
  udp: false,
  unix: true,
  executable: '/usr/bin/node',
  warnings: ['a warning'],
};

test('a worker binds only its own port, and connects to its proxy instead of the database', () => {
  const rules = workerKernelRules(GROUP, {
    port: 41000,
    proxyPorts: [41001],
    databasePorts: [5432],
  });
  assert.deepEqual(rules.bind, [41000]);
  assert.equal(rules.bindAny, false);
  assert.deepEqual(rules.connect, [80, 443, 41001]);
});

test('a worker’s other kernel rules are its group’s', () => {
  const rules = workerKernelRules(GROUP, { port: 41000, proxyPorts: [], databasePorts: [] });
  assert.deepEqual(rules, {
    ...GROUP,
    bind: [41000],
    bindAny: false,
    connect: [80, 443, 5432],
  });
  // The group's rules are not changed.
  assert.deepEqual(GROUP.bind, [3000, 9229]);
  assert.deepEqual(GROUP.connect, [5432, 443, 80]);
});

test('a proxy port the group already connects to is listed once', () => {
  const rules = workerKernelRules(GROUP, {
    port: 1,
    proxyPorts: [443, 7000, 7000],
    databasePorts: [],
  });
  assert.deepEqual(rules.connect, [80, 443, 5432, 7000]);
});

test('kernel paths that are a database file or a directory above it are named', () => {
  const kernel = {
    ...GROUP,
    read: ['/srv/data', '/srv/app', '/srv/dat', '/'],
    write: ['/srv/data/', '/srv/data/app.db', '/srv/data/exports', '/srv/data'],
  };
  assert.deepEqual(kernelPathsCoveringFiles(kernel, ['/srv/data/app.db']), [
    '/srv/data',
    '/',
    '/srv/data/',
    '/srv/data/app.db',
  ]);
  assert.deepEqual(kernelPathsCoveringFiles(GROUP, ['/srv/data/app.db']), []);
  assert.deepEqual(kernelPathsCoveringFiles(kernel, []), []);
});
