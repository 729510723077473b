// The mysql2 driver against a real MariaDB: a service on its callback API, promise API, pools,
// `query` and `execute`, named placeholders and prepared statements, imported from ESM, is
// learned and enforced with no code of its own. Statements carry the principal, request inputs and
// earlier results; what a driver callback does stays in the route's scope; users never seen pass
// under enforce; an injection is refused before the server runs it.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { startUnder } from '../runtime/helpers.ts';
import { type RunningMariaDB, startMariaDB } from '../support/mariadb.ts';
import { readPolicyJson } from '../support/policy-json.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/mysql2-service.mjs', import.meta.url));

let server: RunningMariaDB;
before(async () => {
  server = await startMariaDB();
});
after(() => server?.stop());

async function call(base: string, user: string, path: string, title?: string) {
  const headers: Record<string, string> = { 'x-user': user };
  if (title !== undefined) headers['x-title'] = title;
  const response = await fetch(new URL(path, base), { headers });
  return { status: response.status, body: await response.text() };
}

/** /queued waits in the one-connection pool that /hold holds, until /release (another user). */
async function queued(base: string, user: string, api: string): Promise<void> {
  assert.equal((await call(base, 'holder', '/hold')).body, '"held"');
  const waiting = call(base, user, `/queued?api=${api}`);
  assert.equal((await call(base, 'releaser', '/release')).body, '"released"');
  assert.deepEqual(await waiting, { status: 200, body: JSON.stringify([{ who: user }]) });
}

test('mysql2: learned with the principal, inputs and results on every API; new users pass; injections are refused before MariaDB runs them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-mysql2-'));
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ principal: 'req.user', mode: { runtime: 'off', default: 'learn' } }),
  );
  const env = { MYSQL_URL: server.url };

  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  try {
    for (const [user, id] of [
      ['ann', '1'],
      ['bob', '2'],
      ['cy', '3'],
    ] as const) {
      assert.deepEqual(await call(learning.base, user, '/notes'), {
        status: 200,
        body: JSON.stringify([`${user}'s note`]),
      });
      for (const route of ['/note', '/named', '/prepared']) {
        assert.deepEqual(await call(learning.base, user, `${route}?id=${id}`), {
          status: 200,
          body: JSON.stringify([{ title: `${user}'s note` }]),
        });
      }
      assert.equal((await call(learning.base, user, `/add?title=plan-of-${user}`)).status, 200);
      assert.equal((await call(learning.base, user, '/find-nbe', `plan-of-${user}`)).status, 200);
      for (const route of ['/find', '/find-pool', '/find-execute'])
        assert.equal(
          (await call(learning.base, user, `${route}?title=plan-of-${user}`)).status,
          200,
        );
    }
    // A statement that waits for a pooled connection is still its caller's, not the releaser's.
    for (const api of ['query', 'execute']) {
      for (const user of ['ann', 'bob', 'cy']) await queued(learning.base, user, api);
    }
  } finally {
    await learning.stop();
  }

  const sql = readPolicyJson(join(dir, 'leash.policy.json'), { app: dir }).sql;
  const notes = sql['GET /notes'];
  assert.deepEqual(notes?.['SELECT id, title FROM notes WHERE owner = $1'], {
    $1: ['=principal'],
  });
  // Issued from the first statement's callback: still the route's, with the id it returned.
  const byResult = notes?.['SELECT title FROM notes WHERE id = $1']?.$1;
  assert.equal(byResult?.length, 1, JSON.stringify(notes));
  assert.match(byResult[0], /^=result\.t[\w-]+\.id$/);
  const point = 'SELECT title FROM notes WHERE id = $1 AND owner = $2';
  for (const scope of ['GET /note', 'GET /named', 'GET /prepared']) {
    assert.deepEqual(sql[scope]?.[point], { $1: ['=request.query.id'], $2: ['=principal'] }, scope);
  }
  assert.deepEqual(sql['GET /add']?.['INSERT INTO notes SET owner = $1, title = $2'], {
    $1: ['=principal'],
    $2: ['=request.query.title'],
  });
  for (const scope of ['GET /find', 'GET /find-pool', 'GET /find-execute']) {
    assert.deepEqual(
      sql[scope]?.['SELECT id FROM notes WHERE owner = $1 AND title = $2'],
      { $1: ['=principal'], $2: ['=request.query.title'] },
      scope,
    );
  }
  // The header's title is no input leash follows: any title, so only the template guards it.
  assert.deepEqual(sql['GET /find-nbe']?.['SELECT id FROM notes WHERE owner = $1 AND title = $2'], {
    $1: ['=principal'],
    $2: ['*'],
  });
  assert.deepEqual(sql['GET /queued'], { 'SELECT $1 AS who': { $1: ['=principal'] } });
  assert.equal(sql['GET /release'], undefined);

  const enforcing = await startUnder(
    ['enforce', '--layer=process', '--', process.execPath, SERVICE],
    { cwd: dir, env },
  );
  try {
    assert.deepEqual(await call(enforcing.base, 'dee', '/notes'), {
      status: 200,
      body: JSON.stringify(["dee's note"]),
    });
    for (const route of ['/note', '/named', '/prepared']) {
      assert.deepEqual(
        await call(enforcing.base, 'dee', `${route}?id=4`),
        { status: 200, body: JSON.stringify([{ title: "dee's note" }]) },
        route,
      );
      assert.deepEqual(await call(enforcing.base, 'dee', `${route}?id=1`), {
        status: 200,
        body: '[]',
      });
    }
    assert.equal((await call(enforcing.base, 'dee', '/add?title=fresh')).status, 200);
    assert.equal((await call(enforcing.base, 'dee', '/find?title=fresh')).status, 200);
    for (const title of [
      "x' OR '1'='1",
      "x'; INSERT INTO markers (v) VALUES ('pwned'); -- ",
      "x' /*! OR 1=1 */ -- ",
    ]) {
      assert.deepEqual(
        await call(enforcing.base, 'dee', `/find?title=${encodeURIComponent(title)}`),
        { status: 500, body: 'ERR_LEASH_DENIED' },
        title,
      );
    }
    // Refused on the pools' callback and promise APIs too, more times than they have connections:
    // a refused command still ends, so the pool gets its connection back.
    for (let i = 0; i < 3; i++) {
      for (const route of ['/find-pool', '/find-execute']) {
        assert.deepEqual(
          await call(enforcing.base, 'dee', `${route}?title=${encodeURIComponent("x' OR 1=1 #")}`),
          { status: 500, body: 'ERR_LEASH_DENIED' },
          route,
        );
      }
    }
    for (const route of ['/find-pool', '/find-execute'])
      assert.equal((await call(enforcing.base, 'dee', `${route}?title=fresh`)).status, 200, route);
    // On the connection in NO_BACKSLASH_ESCAPES mode a backslash is itself: a title ending in one
    // is one string (where backslashes escape, it would not end), and a backslash before a quote
    // leaves `OR 1=1` and a comment outside the string.
    assert.deepEqual(await call(enforcing.base, 'dee', '/find-nbe', 'C:\\'), {
      status: 200,
      body: '[]',
    });
    assert.deepEqual(await call(enforcing.base, 'dee', '/find-nbe', "\\' OR 1=1 -- "), {
      status: 500,
      body: 'ERR_LEASH_DENIED',
    });
    for (const api of ['query', 'execute']) await queued(enforcing.base, 'dee', api);
  } finally {
    await enforcing.stop();
  }

  // The stacked INSERT never reached the server; the legitimate one did.
  const check = await mysql.createConnection(server.url);
  try {
    const [markers] = await check.query('SELECT v FROM markers');
    assert.deepEqual(markers, []);
    const [added] = await check.query("SELECT owner FROM notes WHERE title = 'fresh'");
    assert.deepEqual(added, [{ owner: 'dee' }]);
  } finally {
    await check.end();
  }
});
