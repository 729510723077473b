// Per-route isolation with PostgreSQL: the example service keeps its data in a real PostgreSQL
// (started by the test on a loopback port), its `pg` pool unchanged. Under `leash enforce
// --isolate` the workers' connections go to leash's proxy, which holds the credentials and checks
// every statement against the route its token names: the held-out workload passes with nothing
// refused, the SQL attacks fail with the database unchanged, and attacker code in a worker can
// reach neither the database's port nor, through the proxy, a statement with a token it made.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { RunningExample } from '../../examples/service/start.ts';
import {
  heldOutWorkload,
  learningWorkload,
  snapshotDatabase,
  sqlAttacks,
} from '../../examples/service/workload.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';
import { NO_KERNEL } from './helpers.ts';
import { attack, type IsolationSpace, isolationSpace, login } from './isolation-helpers.ts';

const js = JSON.stringify;

describe('under leash enforce --isolate, with PostgreSQL', {
  skip: NO_KERNEL,
}, () => {
  let postgres: RunningPostgres;
  let space: IsolationSpace;
  let service: RunningExample;
  let cookie: string;

  before(async () => {
    postgres = await startPostgres();
    space = await isolationSpace({ databaseUrl: postgres.url });
    const learning = await space.start(['learn']);
    try {
      assert.deepEqual((await learningWorkload(learning.base)).failures, []);
    } finally {
      await learning.stop();
    }
    service = await space.start(['enforce', '--isolate']);
    cookie = await login(service.base, 'alice', 'alice-correct-horse');
  });
  after(async () => {
    await service?.stop();
    await postgres?.stop();
    if (space !== undefined) rmSync(space.work, { recursive: true, force: true });
  });

  test('the held-out workload passes with nothing refused, through the proxy', async () => {
    const summary = await heldOutWorkload(service.base);
    assert.deepEqual(summary.failures, []);
    assert.doesNotMatch(service.output().stderr, /ERR_LEASH_(DENIED|TOKEN)|"event":"violation"/);
  });

  test('the SQL attacks fail and the database is unchanged', async () => {
    const location = { dataDir: space.dataDir, databaseUrl: postgres.url };
    const before = await snapshotDatabase(location);
    for (const a of sqlAttacks(service.base, location)) {
      const outcome = await a.run();
      assert.equal(outcome.succeeded, false, `${a.name}: ${outcome.evidence}`);
    }
    assert.deepEqual(await snapshotDatabase(location), before);
  });

  test('a worker has no password and cannot reach the database’s port', async () => {
    const answer = await attack(
      service.base,
      '/notes',
      cookie,
      `const net = require('node:net');
       const url = new URL(process.env.DATABASE_URL);
       const reached = await new Promise((resolve) => {
         const socket = net.connect(${postgres.port}, '127.0.0.1');
         socket.once('connect', () => { socket.destroy(); resolve('connected'); });
         socket.once('error', (error) => resolve(error.code));
       });
       return { password: url.password, reached };`,
    );
    assert.equal(answer.ok, true, js(answer));
    const value = answer.value as { password: string; reached: string };
    assert.equal(value.password, '');
    assert.notEqual(value.reached, 'connected');
  });

  test('a statement with a token the worker made is refused by the proxy, and nothing runs', async () => {
    const location = { dataDir: space.dataDir, databaseUrl: postgres.url };
    const before = await snapshotDatabase(location);
    const answer = await attack(
      service.base,
      '/notes',
      cookie,
      `// The service's own pg, as the worker loaded it.
       const { Client } = require('node:module').createRequire(process.argv[1])('pg');
       const client = new Client({ connectionString: process.env.DATABASE_URL });
       await client.connect();
       const claims = { rid: '1', route: 'POST /login', principal: 'bob', exp: Date.now() + 60000, k: 'guess' };
       const forged = ['v1', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'c2lnbmF0dXJl'].join('.');
       // Below pg's Client.query, which leash's instrumentation prefixes with the real token:
       // a simple Query message carrying only the forged one.
       client.on('error', () => {});
       try {
         return await new Promise((resolve) => {
           client.connection.once('errorMessage', (m) => resolve({ code: m.code, detail: m.detail, message: m.message }));
           client.connection.once('commandComplete', (m) => resolve({ ran: m.text }));
           client.connection.query('/*leash-token:' + forged + "*/ DELETE FROM notes WHERE owner = 'alice'");
         });
       } finally {
         await client.end();
       }`,
    );
    assert.equal(answer.ok, true, js(answer));
    const value = answer.value as { code: string; detail: string; message: string };
    assert.equal(value.code, '42501', js(value));
    assert.equal(value.detail, 'leash: ERR_LEASH_TOKEN', js(value));
    assert.deepEqual(await snapshotDatabase(location), before);
  });
});
