// ORMs on mysql2 end to end, against one real MariaDB: Sequelize 6 and knex 3 need no code of their
// own. Their statements are learned per route with the principal and request inputs, users never
// seen pass under enforce, and an injection through a raw query is refused before MariaDB runs it.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';
import { type RunningMariaDB, startMariaDB } from '../support/mariadb.ts';

let server: RunningMariaDB;
before(async () => {
  server = await startMariaDB();
});
after(() => server?.stop());

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

async function call(base: string, user: string, path: string) {
  const response = await fetch(new URL(path, base), { headers: { 'x-user': user } });
  return { status: response.status, body: await response.text() };
}

type Sql = Record<string, Record<string, Record<string, string[]>>>;

/** A service directory whose config names the principal, runtime checks off. */
function serviceDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-mysql2-orm-'));
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ principal: 'req.user', mode: { runtime: 'off', default: 'learn' } }),
  );
  return dir;
}

test('Sequelize over mysql2: learned with the principal and inputs, new users pass, an injection is refused', async () => {
  const SERVICE = fixture('sequelize-service.mjs');
  const dir = serviceDir();
  const env = { MYSQL_URL: server.url };
  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  try {
    for (const user of ['ann', 'bob', 'cy']) {
      assert.match((await call(learning.base, user, '/notes')).body, new RegExp(`${user}'s note`));
      // Two adds each: createdAt/updatedAt differ every time, and a slot whose values never
      // repeat is learned as unconstrained once it has enough of them.
      for (const n of [1, 2])
        assert.equal((await call(learning.base, user, `/add?title=plan-${user}-${n}`)).status, 200);
      assert.equal((await call(learning.base, user, `/find?title=plan-${user}-1`)).status, 200);
    }
  } finally {
    await learning.stop();
  }
  const sql = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).sql as Sql;
  assert.deepEqual(
    sql['GET /notes']?.['SELECT title FROM Notes AS Note WHERE Note.owner = $1'],
    { $1: ['=principal'] },
    JSON.stringify(sql['GET /notes']),
  );
  const slotsOf = (scope: string) => Object.values(sql[scope] ?? {}).flatMap(Object.values);
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

test('knex over mysql2: queries are learned per route with the principal constraint, then enforced', async () => {
  const SERVICE = fixture('knex-service.mjs');
  const dir = serviceDir();
  const env = { DATABASE_URL: server.url, KNEX_CLIENT: 'mysql2' };
  const note = (base: string, user: string, id: number) => call(base, user, `/notes/${id}`);
  const search = (base: string, user: string, q: string) =>
    call(base, user, `/search?q=${encodeURIComponent(q)}`);

  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  try {
    for (const [user, id] of [
      ['ann', 1],
      ['ann', 2],
      ['bob', 3],
      ['cy', 4],
    ] as const) {
      assert.match((await note(learning.base, user, id)).body, new RegExp(`"owner":"${user}"`));
      assert.equal((await search(learning.base, user, String(id))).status, 200);
    }
  } finally {
    await learning.stop();
  }
  const sql = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).sql as Sql;
  assert.deepEqual(
    sql['GET /notes/:id']?.['SELECT * FROM notes WHERE id = $1 AND owner = $2 LIMIT $3']?.$2,
    ['=principal'],
    JSON.stringify(sql['GET /notes/:id']),
  );

  const enforcing = await startUnder(
    ['enforce', '--layer=process', '--', process.execPath, SERVICE],
    { cwd: dir, env },
  );
  try {
    assert.match((await note(enforcing.base, 'dee', 5)).body, /"owner":"dee"/);
    assert.equal((await search(enforcing.base, 'dee', '1')).status, 200);
    assert.deepEqual(await search(enforcing.base, 'dee', "x' or '1'='1"), {
      status: 500,
      body: 'ERR_LEASH_DENIED',
    });
  } finally {
    await enforcing.stop();
  }
});
