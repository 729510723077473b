// `leash policy widen`: one rule widened by hand without approving anything else a route did.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const TEMPLATE = 'SELECT title FROM items WHERE title LIKE $1 AND status = $2';

function leash(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: '1', LEASH_MODE: '', LEASH_POLICY: '', LEASH_CONFIG: '' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-widen-'));
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ dataDirs: ['/srv/data'] }));
  const policy = {
    version: 1,
    runtime: {
      'GET /files/:name': { app: { 'fs.read': ['/srv/data/u/a.png', '/etc/hosts'] } },
    },
    sql: {
      'GET /search': {
        [TEMPLATE]: {
          $1: ['in ["%jam%","%rye%","%tea%"]'],
          $2: ['in ["active"]'],
        },
      },
    },
  };
  writeFileSync(join(dir, 'leash.policy.json'), `${JSON.stringify(policy, null, 2)}\n`);
  return dir;
}

const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8'));

test('widen turns one SQL slot into any value and leaves the others alone', () => {
  const dir = workdir();
  const result = leash(dir, 'policy', 'widen', 'sql', 'GET /search', TEMPLATE, '$1');
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stdout,
    /widened sql › GET \/search › .* › \$1: in \["%jam%","%rye%","%tea%"\] → \*/,
  );
  assert.deepEqual(read(dir).sql['GET /search'][TEMPLATE], { $1: ['*'], $2: ['in ["active"]'] });
});

test('widen turns a file path into its directory, only where leash may put a wildcard', () => {
  const dir = workdir();
  const ok = leash(
    dir,
    'policy',
    'widen',
    'runtime',
    'GET /files/:name',
    'app',
    'fs.read',
    '/srv/data/u/a.png',
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.deepEqual(read(dir).runtime['GET /files/:name'].app['fs.read'], [
    '/etc/hosts',
    '/srv/data/u/*',
  ]);
  const refused = leash(
    dir,
    'policy',
    'widen',
    'runtime',
    'GET /files/:name',
    'app',
    'fs.read',
    '/etc/hosts',
  );
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /leash never widens into \/etc/);
  assert.deepEqual(read(dir).runtime['GET /files/:name'].app['fs.read'], [
    '/etc/hosts',
    '/srv/data/u/*',
  ]);
  const missing = leash(dir, 'policy', 'widen', 'runtime', 'GET /nope', 'app');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /no rule GET \/nope › app/);
});
