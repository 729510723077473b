// An ORM-style query builder on top of a driver needs no code of its own: knex over pg, learned
// and enforced by the sql module against a real PostgreSQL on loopback.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';
import { startPostgres } from '../support/postgres.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/knex-service.mjs', import.meta.url));
let pg: Awaited<ReturnType<typeof startPostgres>>;
let dir: string;

before(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'leash-knex-'));
  // The principal is the user the trusted proxy names; runtime checks are off for this test.
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ principal: 'req.user', mode: { runtime: 'off', default: 'learn' } }),
  );
});
after(async () => pg?.stop());

async function as(base: string, user: string, id: number) {
  const response = await fetch(new URL(`/notes/${id}`, base), { headers: { 'x-user': user } });
  return { status: response.status, body: await response.text() };
}

async function search(base: string, user: string, q: string) {
  const response = await fetch(new URL(`/search?q=${encodeURIComponent(q)}`, base), {
    headers: { 'x-user': user },
  });
  return { status: response.status, body: await response.text() };
}

test('knex over pg: queries are learned per route with the principal constraint, then enforced', async () => {
  const env = { DATABASE_URL: pg.url, LEASH_MODE: 'sql=learn' };
  const learning = await startUnder(['learn', '--', process.execPath, SERVICE], { cwd: dir, env });
  for (const [user, id] of [
    ['ann', 1],
    ['ann', 2],
    ['bob', 3],
    ['cy', 4],
  ] as const) {
    assert.match((await as(learning.base, user, id)).body, new RegExp(`"owner":"${user}"`));
    assert.equal((await search(learning.base, user, String(id))).status, 200);
  }
  await learning.stop();
  const sql = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).sql;
  const route = sql['GET /notes/:id'];
  assert.ok(route, Object.keys(sql).join(', '));
  const [template, slots] = Object.entries(route as Record<string, Record<string, string[]>>)[0]!;
  assert.match(
    template,
    /select \* from "?notes"? where "?id"? = \$1 and "?owner"? = \$2 limit \$3/i,
  );
  assert.deepEqual(slots.$2, ['=principal']);

  const enforcing = await startUnder(
    ['enforce', '--layer=process', '--', process.execPath, SERVICE],
    { cwd: dir, env: { DATABASE_URL: pg.url } },
  );
  try {
    assert.match(
      (await as(enforcing.base, 'dee', 5)).body,
      /"owner":"dee"/,
      'a user never seen while learning',
    );
    assert.equal((await search(enforcing.base, 'dee', '1')).status, 200);
    // An injection through the raw query changes the statement's template: refused before it runs.
    const injected = await search(enforcing.base, 'dee', "x' or '1'='1");
    assert.equal(injected.status, 500);
    assert.equal(injected.body, 'ERR_LEASH_DENIED');
  } finally {
    await enforcing.stop();
  }
});
