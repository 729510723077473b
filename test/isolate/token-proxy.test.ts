// The supervisor's real decision in front of a real PostgreSQL: the statement gate (token issuer,
// request registry, the sql section of a policy) behind the wire-protocol proxy, with `pg` clients
// as a worker's. A forged token, an expired one, one whose request has ended, one of another
// group's request and a live token used for a statement only another route may run are all
// refused, and the table is unchanged after each; the same statement with the right token runs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { withToken } from '../../src/isolate/gate.ts';
import { createPgProxy, type PgProxy, upstreamFromUrl } from '../../src/isolate/pg-proxy.ts';
import { createRequestRegistry } from '../../src/isolate/requests.ts';
import { createGate, type WorkerView } from '../../src/isolate/statement-gate.ts';
import { createTokenIssuer } from '../../src/isolate/token.ts';
import { registryWith } from '../../src/modules/builtin.ts';
import { createStatementCache } from '../../src/modules/sql/statement-cache.ts';
import { prepareSqlParsers } from '../../src/modules/sql/template.ts';
import { parsePolicy } from '../../src/store/policy-file.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';

const LIST = 'SELECT id, owner, title FROM notes WHERE owner = $1 ORDER BY id';
const DELETE = 'DELETE FROM notes WHERE owner = $1';

let postgres: RunningPostgres;
let admin: pg.Client;
let proxy: PgProxy;
let now = Date.parse('2026-12-06T12:00:00Z');
const clock = () => now;
const tokens = createTokenIssuer({ ttlMs: 60_000, now: clock });
const requests = createRequestRegistry({ now: clock });
const refusals: string[] = [];

const sql = parsePolicy(
  JSON.stringify({
    version: 1,
    sql: {
      'GET /notes': { [LIST]: { $1: ['=principal'] } },
      'POST /notes/purge': { [DELETE]: { $1: ['=principal'] } },
    },
  }),
  { file: 'leash.policy.json', modules: registryWith() },
).modules.get('sql');

const worker: WorkerView = { group: 'unprivileged', name: 'unprivileged#1', started: () => true };
const gate = createGate(
  {
    sql,
    tokens,
    requests,
    cache: createStatementCache(),
    wantedResults: new Set(),
    onRefusal: (error) => refusals.push(`${error.code}: ${error.message}`),
  },
  worker,
);

let next = 0;
/** Registers a request as the dispatcher does, and mints its token. */
function dispatch(route: string, principal: string, group = 'unprivileged'): string {
  const rid = `r${++next}`;
  requests.add({
    rid,
    route,
    group,
    principal,
    inputs: new Map(),
    sessions: [],
    expires: now + 60_000,
  });
  return tokens.mint({ rid, route, principal });
}

async function rows(): Promise<string[]> {
  const result = await admin.query('SELECT owner, title FROM notes ORDER BY id');
  return result.rows.map((r: { owner: string; title: string }) => `${r.owner}: ${r.title}`);
}

/** Runs one statement as a worker would, through the proxy; the error's leash code, or 'ran'. */
async function asWorker(text: string, values: unknown[]): Promise<string> {
  const listener = await proxy.listen(gate);
  const client = new pg.Client({
    host: '127.0.0.1',
    port: listener.port,
    user: 'worker',
    database: 'x',
  });
  await client.connect();
  try {
    await client.query(text, values);
    return 'ran';
  } catch (error) {
    const e = error as { code?: string; detail?: string };
    assert.equal(e.code, '42501', String(error));
    return e.detail?.replace(/^leash: /, '') ?? String(error);
  } finally {
    await client.end();
    await listener.close();
  }
}

before(async () => {
  await prepareSqlParsers();
  postgres = await startPostgres();
  admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query('CREATE TABLE notes (id serial PRIMARY KEY, owner text, title text)');
  await admin.query(`INSERT INTO notes (owner, title) VALUES ('alice', 'a1'), ('bob', 'b1')`);
  proxy = createPgProxy({ upstream: upstreamFromUrl(postgres.url) });
});

after(async () => {
  await proxy?.close();
  await admin?.end();
  await postgres?.stop();
});

test('refused tokens leave the table as it was; the right token runs the statement', async () => {
  const before = await rows();
  const purge = (token: string) => withToken(DELETE, token);

  const live = dispatch('POST /notes/purge', 'alice');
  const [version, payload, signature] = live.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  const forged = [
    version,
    Buffer.from(JSON.stringify({ ...claims, principal: 'bob' })).toString('base64url'),
    signature,
  ].join('.');
  assert.equal(await asWorker(purge(forged), ['bob']), 'ERR_LEASH_TOKEN');
  assert.match(refusals.at(-1)!, /forged/);

  // A token of another group's request (the worker serves `unprivileged`).
  const otherGroup = dispatch('POST /notes/purge', 'alice', 'g1');
  assert.equal(await asWorker(purge(otherGroup), ['alice']), 'ERR_LEASH_TOKEN');
  assert.match(refusals.at(-1)!, /group g1/);

  // A live token of GET /notes, used for a statement only POST /notes/purge may run.
  const reading = dispatch('GET /notes', 'alice');
  assert.equal(await asWorker(purge(reading), ['alice']), 'ERR_LEASH_DENIED');
  assert.match(refusals.at(-1)!, /in GET \/notes/);

  // The right token, but another principal's rows.
  assert.equal(await asWorker(purge(live), ['bob']), 'ERR_LEASH_DENIED');

  // Expired: the clock moves past the token's life (and the request's).
  const expiring = dispatch('POST /notes/purge', 'alice');
  now += 61_000;
  assert.equal(await asWorker(purge(expiring), ['alice']), 'ERR_LEASH_TOKEN');
  assert.match(refusals.at(-1)!, /expired/);

  // No token at all, after start-up: the worker's own work, which @background has none of.
  assert.equal(await asWorker(DELETE, ['alice']), 'ERR_LEASH_DENIED');

  assert.deepEqual(await rows(), before);

  const fresh = dispatch('POST /notes/purge', 'alice');
  assert.equal(await asWorker(purge(fresh), ['alice']), 'ran');
  assert.deepEqual(await rows(), ['bob: b1']);
});
