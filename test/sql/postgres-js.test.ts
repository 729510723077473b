// postgres.js end to end, through each of its builds (the ES module one `import` loads, the
// CommonJS one `require` loads): tagged templates, fragments, helpers, a transaction, sql.file,
// sql.reserve and sql.unsafe are learned per route with the principal, request inputs and earlier
// results, and its connection is the pool's (`@pool`); under enforce, users and values never seen
// pass (also when their queries queue behind each other on the one connection, and so are built
// in another request's context), and injections through sql.unsafe are refused before PostgreSQL
// runs them.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startUnder } from '../runtime/helpers.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/postgres-js-service.mjs', import.meta.url));

let postgres: RunningPostgres;
before(async () => {
  postgres = await startPostgres();
});
after(() => postgres.stop());

function urlOf(database: string): string {
  const url = new URL(postgres.url);
  url.pathname = `/${database}`;
  return url.href;
}

/** Runs `text` on a database of the test's server as the test itself (never through leash). */
async function query(database: string, text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: urlOf(database) });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

async function call(base: string, user: string, path: string) {
  const response = await fetch(new URL(path, base), { headers: { 'x-user': user } });
  return { status: response.status, body: await response.text() };
}

type SqlSection = Record<string, Record<string, Record<string, string[]>>>;

for (const load of ['import', 'require'] as const) {
  test(`postgres.js through ${load}: learned per route, new users and values pass under enforce, sql.unsafe injections are refused before they run`, async () => {
    const database = `postgres_js_${load}`;
    await query('leash', `CREATE DATABASE ${database}`);
    const dir = mkdtempSync(join(tmpdir(), 'leash-postgres-js-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    writeFileSync(
      join(dir, 'leash.config.json'),
      JSON.stringify({ principal: 'req.user', dataDirs: ['./data'] }),
    );
    const env = { DATABASE_URL: urlOf(database), DATA_DIR: dataDir, POSTGRES_LOAD: load };

    const learning = await startUnder(['learn', '--', process.execPath, SERVICE], {
      cwd: dir,
      env,
    });
    try {
      for (const [user, id] of [
        ['ann', '1'],
        ['bob', '2'],
        ['cy', '3'],
      ] as const) {
        const own = `[{"title":"${user}'s note"}]`;
        assert.deepEqual(await call(learning.base, user, `/notes/${id}`), {
          status: 200,
          body: own,
        });
        assert.equal((await call(learning.base, user, `/add?title=plans+of+${user}`)).status, 200);
        assert.equal((await call(learning.base, user, '/mine')).status, 200);
        assert.deepEqual(await call(learning.base, user, `/mine?title=plans+of+${user}`), {
          status: 200,
          body: `[{"title":"plans of ${user}"}]`,
        });
        assert.equal((await call(learning.base, user, '/first')).body, own);
        assert.equal((await call(learning.base, user, '/count')).body, '[{"n":2}]');
        assert.equal((await call(learning.base, user, '/reserved')).body, '[{"n":2}]');
        assert.match(
          (await call(learning.base, user, `/find?title=plans+of+${user}`)).body,
          new RegExp(`"title":"plans of ${user}"`),
        );
        assert.equal(
          (await call(learning.base, user, `/rename?title=plans+of+${user}`)).body,
          '[]',
        );
      }
    } finally {
      await learning.stop();
    }
    assert.doesNotMatch(learning.stderr(), /sql-unparsable/);
    const sql = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).sql as SqlSection;
    const slots = (scope: string, template: string) => sql[scope]?.[template];
    const all = JSON.stringify(sql, null, 2);
    // The connection is the pool's, whichever route happened to open it.
    const runtime = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).runtime;
    assert.deepEqual(runtime['@pool']?.postgres?.['net.connect'], [`127.0.0.1:${postgres.port}`]);
    assert.deepEqual(
      slots('GET /notes/:id', 'SELECT title FROM notes WHERE id = $1 AND owner = $2'),
      { $1: ['=request.params.id'], $2: ['=principal'] },
      all,
    );
    assert.deepEqual(
      slots('GET /add', 'INSERT INTO notes (owner, title) VALUES ($1, $2) RETURNING id'),
      { $1: ['=principal'], $2: ['=request.query.title'] },
      all,
    );
    assert.ok(slots('GET /add', 'BEGIN') && slots('GET /add', 'COMMIT'), all);
    assert.deepEqual(
      slots('GET /first', 'SELECT title FROM notes WHERE id = $1')?.$1?.[0]?.startsWith('=result.'),
      true,
      all,
    );
    assert.deepEqual(
      slots('GET /reserved', 'SELECT (count(*))::int AS n FROM notes WHERE owner = $1'),
      { $1: ['=principal'] },
      all,
    );
    assert.deepEqual(
      slots('GET /count', 'SELECT (count(*))::int AS n FROM notes WHERE owner = $1'),
      { $1: ['=principal'] },
      all,
    );

    const enforcing = await startUnder(
      ['enforce', '--layer=process', '--', process.execPath, SERVICE],
      { cwd: dir, env },
    );
    try {
      // Users never seen, all at once: their queries queue on the one connection.
      const users = ['dee', 'eve', 'fay', 'gus'];
      const added = await Promise.all(
        users.map((user) => call(enforcing.base, user, `/add?title=first+of+${user}`)),
      );
      assert.deepEqual(
        added.map((response) => response.status),
        [200, 200, 200, 200],
        JSON.stringify(added),
      );
      const found = await Promise.all(
        users.map((user) => call(enforcing.base, user, `/mine?title=first+of+${user}`)),
      );
      assert.deepEqual(
        found.map((response) => response.body),
        users.map((user) => `[{"title":"first of ${user}"}]`),
      );
      assert.equal(
        (await call(enforcing.base, 'dee', '/notes/4')).body,
        `[{"title":"dee's note"}]`,
      );
      assert.equal((await call(enforcing.base, 'dee', '/first')).body, `[{"title":"dee's note"}]`);
      assert.equal((await call(enforcing.base, 'dee', '/count')).body, '[{"n":2}]');
      assert.equal((await call(enforcing.base, 'dee', '/reserved')).body, '[{"n":2}]');
      assert.match(
        (await call(enforcing.base, 'dee', '/find?title=first+of+dee')).body,
        /"title":"first of dee"/,
      );
      // Unrefused, this would answer every user's notes.
      assert.deepEqual(
        await call(enforcing.base, 'dee', `/find?title=${encodeURIComponent("x' OR '1'='1")}`),
        { status: 500, body: 'ERR_LEASH_DENIED' },
      );
      // Unrefused, the stacked statement would rename ann's note.
      const stacked = "x' WHERE id < 0; UPDATE notes SET title = 'owned' WHERE owner = 'ann'; --";
      assert.deepEqual(
        await call(enforcing.base, 'dee', `/rename?title=${encodeURIComponent(stacked)}`),
        { status: 500, body: 'ERR_LEASH_DENIED' },
      );
    } finally {
      await enforcing.stop();
    }
    assert.deepEqual(
      await query(database, "SELECT title FROM notes WHERE owner = 'ann' ORDER BY id"),
      [{ title: "ann's note" }, { title: 'plans of ann' }],
    );
  });
}
