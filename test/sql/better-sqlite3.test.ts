// The better-sqlite3 driver: a service importing it from ESM is learned and enforced with no code
// of its own; an injection is refused before SQLite runs it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/better-sqlite3-service.mjs', import.meta.url));

async function call(base: string, user: string, path: string) {
  const response = await fetch(new URL(path, base), { headers: { 'x-user': user } });
  return { status: response.status, body: await response.text() };
}

test('better-sqlite3: statements are learned with the principal, new users pass, an injection is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-bsq-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ principal: 'req.user', mode: { runtime: 'off', default: 'learn' } }),
  );
  const env = { DATA_DIR: dataDir };

  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  for (const user of ['ann', 'bob', 'cy']) {
    assert.match((await call(learning.base, user, '/notes')).body, new RegExp(`${user}'s note`));
    assert.equal((await call(learning.base, user, `/find?title=plans-of-${user}`)).status, 200);
  }
  await learning.stop();
  const sql = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).sql;
  assert.deepEqual(sql['GET /notes']?.['SELECT id, title FROM notes WHERE owner = $1'], {
    $1: ['=principal'],
  });

  const enforcing = await startUnder(
    ['enforce', '--layer=process', '--', process.execPath, SERVICE],
    { cwd: dir, env },
  );
  try {
    assert.match(
      (await call(enforcing.base, 'dee', '/notes')).body,
      /dee's note/,
      'a user never seen while learning',
    );
    assert.equal((await call(enforcing.base, 'dee', '/find?title=other')).status, 200);
    const injected = await call(
      enforcing.base,
      'dee',
      `/find?title=${encodeURIComponent("x' OR '1'='1")}`,
    );
    assert.deepEqual(injected, { status: 500, body: 'ERR_LEASH_DENIED' });
  } finally {
    await enforcing.stop();
  }
});

test('better-sqlite3: its database file is learned, so the kernel layer lets the service open and use it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-bsq-kernel-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ principal: 'req.user' }));
  const env = { DATA_DIR: dataDir };
  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  for (const user of ['ann', 'bob', 'cy']) {
    assert.match((await call(learning.base, user, '/notes')).body, new RegExp(`${user}'s note`));
  }
  await learning.stop();
  const runtime = JSON.stringify(
    JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).runtime,
  );
  assert.match(runtime, /"fs\.write":\[[^\]]*notes\.db"/, runtime);

  // Default layers: the kernel's too where this machine has Landlock (it grants only what the
  // policy names, and SQLite opens the file in native code, unseen by the fs wrappers).
  const enforcing = await startUnder(['enforce', '--', process.execPath, SERVICE], {
    cwd: dir,
    env,
  });
  try {
    assert.match((await call(enforcing.base, 'dee', '/notes')).body, /dee's note/);
  } finally {
    await enforcing.stop();
  }
});
