// A database pool's connections are the process's: learned while route A opened them, they are
// not refused when, after an idle spell, route B is the one whose query makes the pool reconnect.
// Every other connection stays the route's.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { get, startUnder } from '../runtime/helpers.ts';
import { readPolicyJson } from '../support/policy-json.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/pool-service.mjs', import.meta.url));
const IDLE_MS = 600;

let postgres: RunningPostgres;
let dir: string;
let service: string;

before(async () => {
  postgres = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'leash-pool-'));
  // The service imports pg from the checkout's node_modules, so it runs from the checkout; the
  // config (and with it the policy) is in a directory of the test's own.
  service = FIXTURE;
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
});

after(() => postgres.stop());

test('after an idle spell, a route that never connected while learning reconnects the pool', async () => {
  const env = { DATABASE_URL: postgres.url };
  const learning = await startUnder(['learn', '--', process.execPath, service], { cwd: dir, env });
  try {
    // GET /a opens the connection; GET /b, right after, reuses it: /b never connects.
    assert.equal((await get(learning.base, '/a')).body, '/a');
    assert.equal((await get(learning.base, '/b')).body, '/b');
    await sleep(IDLE_MS);
    assert.equal((await get(learning.base, '/a')).body, '/a');
  } finally {
    await learning.stop();
  }
  const runtime = readPolicyJson(join(dir, 'leash.policy.json'), { app: dir }).runtime;
  assert.deepEqual(runtime['@pool'].pg['net.connect'], [`127.0.0.1:${postgres.port}`]);
  assert.equal(runtime['GET /a'], undefined, 'the connection is not granted to the route');
  assert.equal(runtime['GET /b'], undefined);

  const enforcing = await startUnder(
    ['enforce', '--layer=process', '--', process.execPath, service],
    {
      cwd: dir,
      env,
    },
  );
  try {
    // A cold pool: GET /b, which never connected while learning, opens the connection.
    assert.equal((await get(enforcing.base, '/b')).body, '/b');
    await sleep(IDLE_MS);
    assert.equal((await get(enforcing.base, '/b')).body, '/b', 'and reopens it after idling');
    assert.equal((await get(enforcing.base, '/a')).body, '/a');
  } finally {
    await enforcing.stop();
  }
  assert.doesNotMatch(enforcing.stderr(), /"event":"violation"/);
});
