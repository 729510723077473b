// Libraries on node-postgres end to end (they need no code of their own): pg-promise 12, which
// formats values into the statement's text itself, and TypeORM 0.3 (also over better-sqlite3).
// Their statements are learned per route with the principal and request inputs; under enforce,
// users and titles never seen pass, also all at once on a pool of one connection (a query that
// waits for the connection is still decided in its own request's context), and an injection
// through a raw query is refused before the database runs it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startUnder } from '../runtime/helpers.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';

/** PostgreSQL's template of both libraries' INSERT (pg-promise's has literals, TypeORM's `$n`). */
const PG_INSERT = 'INSERT INTO notes (owner, title) VALUES ($1, $2) RETURNING id';

const LIBRARIES = [
  { name: 'pg-promise 12 over pg', fixture: 'pg-promise-service.mjs', env: {}, insert: PG_INSERT },
  { name: 'TypeORM 0.3 over pg', fixture: 'typeorm-service.mjs', env: {}, insert: PG_INSERT },
  {
    name: 'TypeORM 0.3 over better-sqlite3',
    fixture: 'typeorm-service.mjs',
    env: { TYPEORM_TYPE: 'better-sqlite3' },
    insert: undefined,
  },
];

let postgres: RunningPostgres;
let databases = 0;
before(async () => {
  postgres = await startPostgres();
});
after(() => postgres.stop());

/** A database of its own on the file's server, as a URL. */
async function freshDatabase(): Promise<string> {
  const name = `orm_${++databases}`;
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgres.url);
  url.pathname = `/${name}`;
  return url.href;
}

async function call(base: string, user: string, path: string) {
  const response = await fetch(new URL(path, base), { headers: { 'x-user': user } });
  return { status: response.status, body: await response.text() };
}

type SqlSection = Record<string, Record<string, Record<string, string[]>>>;

for (const library of LIBRARIES) {
  test(`${library.name}: learned with the principal and inputs, new users pass at once, an injection is refused`, async () => {
    const service = fileURLToPath(new URL(`./fixtures/${library.fixture}`, import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'leash-orm-pg-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    writeFileSync(
      join(dir, 'leash.config.json'),
      JSON.stringify({ principal: 'req.user', mode: { runtime: 'off', default: 'learn' } }),
    );
    const env = { DATA_DIR: dataDir, DATABASE_URL: await freshDatabase(), ...library.env };
    const withMine = library.fixture === 'typeorm-service.mjs';

    // Started twice while learning, as across deploys: TypeORM's synchronize inspects an existing
    // schema with other statements than it creates a new one with.
    await (await startUnder(['learn', '--', process.execPath, service], { cwd: dir, env })).stop();
    const learning = await startUnder(['learn', '--', process.execPath, service], {
      cwd: dir,
      env,
    });
    try {
      for (const user of ['ann', 'bob', 'cy']) {
        assert.equal(
          (await call(learning.base, user, '/notes')).body,
          `[{"title":"${user}'s note"}]`,
        );
        assert.equal((await call(learning.base, user, `/add?title=plans+of+${user}`)).status, 200);
        if (withMine)
          assert.equal(
            (await call(learning.base, user, `/mine?title=plans+of+${user}`)).body,
            `[{"title":"plans of ${user}"}]`,
          );
        assert.match(
          (await call(learning.base, user, `/find?title=plans+of+${user}`)).body,
          new RegExp(`"title":"plans of ${user}"`),
        );
      }
    } finally {
      await learning.stop();
    }
    assert.doesNotMatch(learning.stderr(), /sql-unparsable/);
    const sql = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).sql as SqlSection;
    const constraintsOf = (scope: string) =>
      Object.values(sql[scope] ?? {}).flatMap((slots) => Object.values(slots).flat());
    const all = JSON.stringify(sql, null, 2);
    for (const route of ['GET /notes', 'GET /add', 'GET /find'])
      assert.ok(constraintsOf(route).includes('=principal'), `${route}: ${all}`);
    for (const route of ['GET /add', 'GET /find', ...(withMine ? ['GET /mine'] : [])])
      assert.ok(constraintsOf(route).includes('=request.query.title'), `${route}: ${all}`);
    if (library.insert !== undefined)
      assert.deepEqual(
        sql['GET /add']?.[library.insert],
        { $1: ['=principal'], $2: ['=request.query.title'] },
        all,
      );

    const enforcing = await startUnder(
      ['enforce', '--layer=process', '--', process.execPath, service],
      { cwd: dir, env },
    );
    try {
      const users = ['dee', 'eve', 'fay', 'gus'];
      const added = await Promise.all(
        users.map((user) => call(enforcing.base, user, `/add?title=first+of+${user}`)),
      );
      assert.deepEqual(
        added.map((response) => response.status),
        [200, 200, 200, 200],
        JSON.stringify(added),
      );
      const listed = await Promise.all(users.map((user) => call(enforcing.base, user, '/notes')));
      assert.deepEqual(
        listed.map((response) => response.body),
        users.map((user) =>
          user === 'dee'
            ? `[{"title":"dee's note"},{"title":"first of dee"}]`
            : `[{"title":"first of ${user}"}]`,
        ),
      );
      if (withMine)
        assert.equal(
          (await call(enforcing.base, 'eve', '/mine?title=first+of+eve')).body,
          '[{"title":"first of eve"}]',
        );
      assert.match(
        (await call(enforcing.base, 'eve', '/find?title=first+of+eve')).body,
        /"title":"first of eve"/,
      );
      // Unrefused, this would answer every user's notes.
      assert.deepEqual(
        await call(enforcing.base, 'eve', `/find?title=${encodeURIComponent("x' OR '1'='1")}`),
        { status: 500, body: 'ERR_LEASH_DENIED' },
      );
    } finally {
      await enforcing.stop();
    }
  });
}
