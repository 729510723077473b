// The SQL part of the conformance suites, one test file per driver (test/adapters/sql-*.test.ts,
// so that the files run side by side): for each framework, the sql module learns the request's
// inputs and principal where the framework keeps them, users and values never seen pass under
// enforce (JSON and form bodies alike), and a SQL injection and a shell injection are refused
// before their effect.
//
// Which pairs run: the frameworks of issue 10's matrix (node:http, Express 4 and 5, Fastify 5,
// Koa, NestJS on Express) with every driver; the other adapters (Fastify 4, NestJS on Fastify,
// Hapi) with node:sqlite. What a framework adds (where its request keeps inputs) does not depend on
// the driver, and what a driver adds (its statements, in the caller's context) not on the framework.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { get } from '../runtime/helpers.ts';
import { ADAPTERS, type Adapter, template } from './adapters.ts';
import { asUser, service } from './service.ts';

/** The frameworks every driver runs under. */
const MATRIX = ['node:http', 'Express 4', 'Express 5', 'Fastify 5', 'Koa 3', 'NestJS 12 (Express)'];

/** A database server for one file's services: a fresh database (its environment) per service. */
export interface DatabaseServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  database(): Promise<NodeJS.ProcessEnv>;
}

/**
 * Registers the SQL conformance tests of `driver`: the matrix's frameworks, or with `everyAdapter`
 * every adapter (node:sqlite, so that each adapter runs with one driver at least).
 */
export function sqlConformance(
  driver: string,
  options: { server?: DatabaseServer; everyAdapter?: boolean } = {},
): void {
  const { server } = options;
  if (server !== undefined) {
    before(() => server.start());
    after(() => server.stop());
  }
  const adapters = ADAPTERS.filter(
    (adapter) => options.everyAdapter === true || MATRIX.includes(adapter.name),
  );
  if (adapters.length !== (options.everyAdapter === true ? ADAPTERS.length : MATRIX.length))
    throw new Error(`an adapter of the matrix is missing: ${MATRIX.join(', ')}`);
  for (const adapter of adapters)
    inputsSeenBySql(adapter, driver, server?.database ?? (async () => ({})));
}

/**
 * The sql module sees the request's inputs and principal where the framework keeps them (route
 * params, JSON body, `user` set by a hook), or where leash saw them (a plain service's own body
 * parsing and path): it learns `=request.params.id`, `=request.body.title` and `=principal`, so
 * users and values never seen while learning pass under enforce. In the same
 * learn → enforce cycle, the attacks on the two vulnerable routes are refused before the effect: a
 * SQL injection into the search (no other user's note comes back) and a shell injection into the
 * echo (the file it would create does not exist).
 */
function inputsSeenBySql(
  adapter: Adapter,
  driver: string,
  database: () => Promise<NodeJS.ProcessEnv>,
): void {
  test(`${adapter.name} × ${driver}: the sql module learns request inputs and the principal, injections are refused`, async () => {
    const svc = service(adapter, { SQL_DRIVER: driver, ...(await database()) });
    const learning = await svc.start('learn');
    try {
      for (const [user, id] of [
        ['ann', '1'],
        ['bob', '2'],
        ['cy', '3'],
      ] as const) {
        assert.equal(
          (await asUser(learning.base, user, `/sql/notes/${id}`)).body,
          `{"title":"${user}'s note"}`,
        );
        assert.equal(
          (await asUser(learning.base, user, '/sql/notes', { title: `plans of ${user}` })).body,
          'added',
        );
        // The same route with a form body: the same statement, its value from the same input.
        const form = new URLSearchParams({ title: `drafts of ${user}` });
        assert.equal((await asUser(learning.base, user, '/sql/notes', form)).body, 'added');
        assert.equal(
          (await asUser(learning.base, user, `/sql/search?title=plans+of+${user}`)).body,
          `{"title":"plans of ${user}"}`,
        );
        assert.equal((await get(learning.base, `/shell?n=${id}`)).body, id);
      }
    } finally {
      await learning.stop();
    }
    const sql = svc.policy().sql as Record<string, Record<string, Record<string, string[]>>>;
    assert.deepEqual(
      sql[template(adapter, 'GET /sql/notes/:id')]?.[
        'SELECT title FROM notes WHERE id = $1 AND owner = $2'
      ],
      { $1: ['=request.params.id'], $2: ['=principal'] },
      JSON.stringify(sql, null, 2),
    );
    const inserts = Object.entries(sql['POST /sql/notes'] ?? {});
    assert.deepEqual(
      inserts.map(([, slots]) => slots),
      [{ $1: ['=principal'], $2: ['=request.body.title'] }],
      JSON.stringify(inserts),
    );
    assert.deepEqual(
      sql['GET /sql/search']?.['SELECT title FROM notes WHERE owner = $1 AND title = $2'],
      { $1: ['=principal'], $2: ['=request.query.title'] },
      JSON.stringify(sql['GET /sql/search']),
    );

    const enforcing = await svc.start('enforce');
    try {
      assert.equal(
        (await asUser(enforcing.base, 'dee', '/sql/notes/4')).body,
        `{"title":"dee's note"}`,
      );
      assert.equal(
        (await asUser(enforcing.base, 'dee', '/sql/notes', { title: 'never seen' })).body,
        'added',
      );
      const form = new URLSearchParams({ title: 'never seen either' });
      assert.equal((await asUser(enforcing.base, 'dee', '/sql/notes', form)).body, 'added');
      assert.equal(
        (await asUser(enforcing.base, 'dee', '/sql/search?title=never+seen')).body,
        '{"title":"never seen"}',
      );
      // Unrefused, each would answer another user's note.
      for (const title of ["x' OR '1'='1", "x' UNION SELECT title FROM notes WHERE owner = 'ann"])
        assert.equal(
          (await asUser(enforcing.base, 'dee', `/sql/search?title=${encodeURIComponent(title)}`))
            .body,
          'ERR_LEASH_DENIED',
          title,
        );
      assert.equal((await get(enforcing.base, '/shell?n=4')).body, '4');
      const marker = join(svc.dir, 'injected');
      assert.equal(
        (await get(enforcing.base, `/shell?n=${encodeURIComponent(`4; touch ${marker}`)}`)).body,
        'ERR_LEASH_DENIED',
      );
      assert.equal(existsSync(marker), false, 'the injected command ran');
    } finally {
      await enforcing.stop();
    }
  });
}
