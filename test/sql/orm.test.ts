// ORMs end to end (they need no code of their own): Sequelize 6 over sqlite3 and Drizzle over
// better-sqlite3. Their statements are learned per route with the principal and request inputs,
// users and titles never seen pass under enforce, and an injection through a raw query or
// fragment is refused before SQLite runs it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';

const ORMS = [
  { name: 'Sequelize over sqlite3', fixture: 'sequelize-service.mjs' },
  { name: 'Drizzle over better-sqlite3', fixture: 'drizzle-service.mjs' },
];

async function call(base: string, user: string, path: string) {
  const response = await fetch(new URL(path, base), { headers: { 'x-user': user } });
  return { status: response.status, body: await response.text() };
}

for (const orm of ORMS) {
  test(`${orm.name}: learned with the principal and inputs, new users pass, an injection is refused`, async () => {
    const SERVICE = fileURLToPath(new URL(`./fixtures/${orm.fixture}`, import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'leash-orm-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    writeFileSync(
      join(dir, 'leash.config.json'),
      JSON.stringify({ principal: 'req.user', mode: { runtime: 'off', default: 'learn' } }),
    );
    const env = { DATA_DIR: dataDir };

    const learning = await startUnder(['learn', '--', process.execPath, SERVICE], {
      cwd: dir,
      env,
    });
    try {
      for (const user of ['ann', 'bob', 'cy']) {
        assert.match(
          (await call(learning.base, user, '/notes')).body,
          new RegExp(`${user}'s note`),
        );
        // Two adds each: Sequelize's createdAt/updatedAt differ every time, and a slot whose values
        // never repeat is learned as unconstrained once it has enough of them.
        for (const n of [1, 2])
          assert.equal(
            (await call(learning.base, user, `/add?title=plan-${user}-${n}`)).status,
            200,
          );
        assert.equal((await call(learning.base, user, `/find?title=plan-${user}-1`)).status, 200);
      }
    } finally {
      await learning.stop();
    }
    const sql = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).sql as Record<
      string,
      Record<string, Record<string, string[]>>
    >;
    const slotsOf = (scope: string) => Object.values(sql[scope] ?? {}).flatMap(Object.values);
    assert.ok(
      slotsOf('GET /notes').some((constraints) => constraints.includes('=principal')),
      JSON.stringify(sql['GET /notes']),
    );
    assert.ok(
      slotsOf('GET /add').some((constraints) => constraints.includes('=request.query.title')),
      JSON.stringify(sql['GET /add']),
    );

    const enforcing = await startUnder(
      ['enforce', '--layer=process', '--', process.execPath, SERVICE],
      { cwd: dir, env },
    );
    try {
      assert.match((await call(enforcing.base, 'dee', '/notes')).body, /dee's note/);
      assert.equal((await call(enforcing.base, 'dee', '/add?title=fresh')).status, 200);
      assert.equal((await call(enforcing.base, 'dee', '/find?title=fresh')).status, 200);
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
}
