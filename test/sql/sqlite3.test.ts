// The sqlite3 (node-sqlite3) driver: a service on its callback API, imported from ESM, is learned
// and enforced with no code of its own: statements carry the principal and request inputs, bound
// values count, what a driver callback does stays in the route's scope, and an injection is
// refused before SQLite runs it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';
import { readPolicyJson } from '../support/policy-json.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/sqlite3-service.mjs', import.meta.url));

async function call(base: string, user: string, path: string) {
  const response = await fetch(new URL(path, base), { headers: { 'x-user': user } });
  return { status: response.status, body: await response.text() };
}

test('sqlite3: statements are learned with the principal and inputs, callbacks keep the route, an injection is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-sqlite3-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ principal: 'req.user', dataDirs: ['./data'] }),
  );
  const env = { DATA_DIR: dataDir };

  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  try {
    for (const [user, id] of [
      ['ann', '1'],
      ['bob', '2'],
      ['cy', '3'],
    ] as const) {
      assert.match((await call(learning.base, user, '/notes')).body, new RegExp(`${user}'s note`));
      assert.match((await call(learning.base, user, `/note?id=${id}`)).body, /note/);
      assert.equal((await call(learning.base, user, `/find?title=plans-of-${user}`)).status, 200);
    }
  } finally {
    await learning.stop();
  }
  const policy = readPolicyJson(join(dir, 'leash.policy.json'), { app: dir });
  assert.deepEqual(policy.sql['GET /notes']?.['SELECT id, title FROM notes WHERE owner = $1'], {
    $1: ['=principal'],
  });
  assert.deepEqual(
    policy.sql['GET /note']?.['SELECT title FROM notes WHERE id = $1 AND owner = $2'],
    { $1: ['=request.query.id'], $2: ['=principal'] },
  );
  assert.deepEqual(
    policy.runtime['GET /notes']?.app?.['fs.write'],
    [join(dataDir, 'audit.log')],
    'the write in the driver callback is the route’s',
  );

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
    assert.match((await call(enforcing.base, 'dee', '/note?id=4')).body, /dee's note/);
    assert.deepEqual(await call(enforcing.base, 'dee', '/note?id=1'), {
      status: 200,
      body: 'null',
    });
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

  // SQLite opens the database in native code: the file is learned from the driver, so the
  // kernel layer of the default layers lets the service open it and write its journal.
  const dbFile = join(dataDir, 'notes.db');
  const written = Object.values(policy.runtime).flatMap((byPackage) =>
    Object.values(byPackage as Record<string, Record<string, string[]>>).flatMap(
      (byCapability) => byCapability['fs.write'] ?? [],
    ),
  );
  assert.ok(written.includes(dbFile), JSON.stringify(written));
  const allLayers = await startUnder(['enforce', '--', process.execPath, SERVICE], {
    cwd: dir,
    env,
  });
  try {
    assert.match((await call(allLayers.base, 'dee', '/notes')).body, /dee's note/);
  } finally {
    await allLayers.stop();
  }
});
