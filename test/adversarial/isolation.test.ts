// Per-route isolation (`leash enforce --isolate`) on the example service, end to end: the policy is
// learned with a compromised dependency present (examples/service/compromised-dependency.mjs, quiet while learning),
// then the service runs under the supervisor. The held-out workload must pass with nothing
// refused, the demo's attacks must fail, and attacker code running in one route's worker must not
// get another group's file rights, the database file, another principal's rows, another login, or
// a statement past the proxy with a token of its own making. The same borrowing is run once under
// plain `leash enforce` first, where it gets through: that is the hole isolation closes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { borrowRoute } from '../../examples/service/compromised.ts';
import type { RunningExample } from '../../examples/service/start.ts';
import {
  attacks,
  heldOutWorkload,
  learningWorkload,
  snapshotDatabase,
  sqlAttacks,
} from '../../examples/service/workload.ts';
import { SINGLE_PROCESS_LIMIT } from '../support/processes.ts';
import { NO_KERNEL } from './helpers.ts';
import { attack, type IsolationSpace, isolationSpace, login } from './isolation-helpers.ts';

const js = JSON.stringify;
/** A refusal by a worker's own sandbox: Node's permission flags, or the kernel's rules. */
const WORKER_SANDBOX = /EACCES|Access to this API has been restricted/;
const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));

let space: IsolationSpace;
let work: string;
let dataDir: string;

const borrowFiles = borrowRoute('/files/isolation-private.txt', 'alice');

/** The route's own statement with the worker's idea of who is logged in turned into bob. */
const asBob = `
  req.session.user = 'bob';
  const { DatabaseSync } = require('node:sqlite');
  const db = new DatabaseSync(process.env.DATA_DIR + '/notes.db');
  return db.prepare('SELECT id, owner, title, body FROM notes WHERE owner = ? ORDER BY id').all('bob').map((n) => n.owner);`;

let alicesFile: string;

before(async () => {
  space = await isolationSpace();
  ({ work, dataDir } = space);
  const service = await space.start(['learn']);
  try {
    const summary = await learningWorkload(service.base);
    assert.deepEqual(summary.failures, []);
  } finally {
    await service.stop();
  }
  alicesFile = join(dataDir, 'uploads', 'alice', 'isolation-private.txt');
  mkdirSync(join(dataDir, 'uploads', 'alice'), { recursive: true });
  writeFileSync(alicesFile, 'alice private words');
});

after(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('without isolation (leash enforce, default layers)', { skip: NO_KERNEL }, () => {
  test('attacker code in GET /notes borrows GET /files/:name by emitting a forged request, and acts as bob by setting req.session.user', async () => {
    const service = await space.start(['enforce', '--no-isolate']);
    try {
      const cookie = await login(service.base, 'alice', 'alice-correct-horse');
      const borrowed = await attack(service.base, '/notes', cookie, borrowFiles);
      assert.deepEqual(borrowed, { ok: true, value: { status: 200, body: 'alice private words' } });
      for (const url of ['/weather?city=Oslo', '/ping?host=127.0.0.1']) {
        const other = await attack(service.base, '/notes', cookie, borrowRoute(url, 'alice'));
        assert.equal((other.value as { status: number }).status, 200, `${url}: ${js(other)}`);
      }
      const rows = await attack(service.base, '/notes', cookie, asBob);
      assert.equal(rows.ok, true, js(rows));
      assert.ok(
        (rows.value as string[]).every((owner) => owner === 'bob'),
        js(rows),
      );
    } finally {
      await service.stop();
    }
  });
});

describe('under leash enforce --isolate', { skip: NO_KERNEL }, () => {
  let service: RunningExample;
  let cookie: string;

  before(async () => {
    service = await space.start(['enforce', '--isolate']);
    cookie = await login(service.base, 'alice', 'alice-correct-horse');
  });
  after(async () => {
    await service?.stop();
  });

  test('the routes are grouped and shown, and the database file is named as the supervisor’s', () => {
    const stderr = service.output().stderr;
    assert.match(
      stderr,
      /leash: isolate: \d+ groups, \d+ workers \(each group's kernel sandbox \+ Node's permission flags \+ in-process checks\)/,
    );
    assert.match(stderr, /unprivileged: .*GET \/notes\b/);
    // The login routes have a worker of their own: no other route's code can log anyone in.
    assert.match(stderr, /\n {2}login: POST \/login, POST \/login-legacy — /);
    assert.match(stderr, /g\d: GET \/export\/:id, POST \/export/);
    assert.match(
      stderr,
      new RegExp(`database files only leash opens: ${join(dataDir, 'notes.db')}`),
    );
  });

  test('the held-out workload, starting with returning users, passes with nothing refused', async () => {
    const summary = await heldOutWorkload(service.base);
    assert.deepEqual(summary.failures, []);
    assert.ok(summary.requests > 50, `${summary.requests} requests`);
    assert.doesNotMatch(service.output().stderr, /ERR_LEASH_(DENIED|TOKEN)|"event":"violation"/);
  });

  test('the demo’s runtime and SQL attacks are refused and the database is unchanged', async () => {
    const attackDir = join(work, 'attack');
    mkdirSync(attackDir, { recursive: true });
    for (const a of attacks(service.base, {
      tmpDir: attackDir,
      metadataBase: service.metadataBase,
    })) {
      const outcome = await a.run();
      assert.equal(outcome.succeeded, false, `${a.name}: ${outcome.evidence}`);
    }
    const location = { dataDir };
    const before = await snapshotDatabase(location);
    for (const a of sqlAttacks(service.base, location)) {
      const outcome = await a.run();
      assert.equal(outcome.succeeded, false, `${a.name}: ${outcome.evidence}`);
    }
    assert.deepEqual(await snapshotDatabase(location), before);
  });

  test('attacker code in GET /notes cannot borrow GET /files/:name: its worker’s sandbox has no uploads', async () => {
    const borrowed = await attack(service.base, '/notes', cookie, borrowFiles);
    assert.equal(borrowed.ok, true, js(borrowed));
    const { status, body } = borrowed.value as { status: number; body: string };
    assert.equal(status, 500, body);
    // The route's handler ran in its own scope, so leash's in-process check allowed the read:
    // what refused it is the worker's group's sandbox (Node's permission flags for the group,
    // and under them its kernel rules).
    assert.match(body, WORKER_SANDBOX);
    assert.doesNotMatch(body, /alice private words/);
    // The route that owns the right still has it.
    const response = await fetch(new URL('/files/isolation-private.txt', service.base), {
      headers: { cookie },
    });
    assert.equal(await response.text(), 'alice private words');
  });

  // Every scope but the start-up's is refused the file in process already; what the kernel adds
  // (the file is in no worker's sandbox) is the plan's (src/isolate/plan.test.ts).
  test('nor reach GET /weather’s partner host, nor run GET /ping’s command, that way', async () => {
    const weather = await attack(
      service.base,
      '/notes',
      cookie,
      borrowRoute('/weather?city=Oslo', 'alice'),
    );
    const { status: weatherStatus, body: weatherBody } = weather.value as {
      status: number;
      body: string;
    };
    assert.equal(weatherStatus, 500, weatherBody);
    assert.match(weatherBody, /fetch failed|EACCES|ECONNREFUSED|Access to this API/);
    const ping = await attack(
      service.base,
      '/notes',
      cookie,
      borrowRoute('/ping?host=127.0.0.1', 'alice'),
    );
    const { status: pingStatus, body: pingBody } = ping.value as { status: number; body: string };
    assert.ok(pingStatus === 500 || pingStatus === 502, `${pingStatus} ${pingBody}`);
    assert.match(pingBody, WORKER_SANDBOX);
    assert.doesNotMatch(pingBody, /localhost/);
    // The routes that own these rights still have them.
    const own = await fetch(new URL('/weather?city=Oslo', service.base), { headers: { cookie } });
    assert.equal(own.status, 200);
  });

  test('no worker reads the database file itself, by fs or by a native driver', async () => {
    const dbFile = join(dataDir, 'notes.db');
    const direct = await attack(
      service.base,
      '/notes',
      cookie,
      `return require('node:fs').readFileSync(${js(dbFile)}).length;`,
    );
    assert.equal(direct.ok, false, js(direct));
    const native = await attack(
      service.base,
      '/notes',
      cookie,
      `const Database = require('better-sqlite3');
       return new Database(${js(dbFile)}, { readonly: true, fileMustExist: true }).prepare('SELECT password_hash FROM users').all();`,
    );
    assert.equal(native.ok, false, js(native));
    assert.doesNotMatch(js(native), /scrypt|\$/);
  });

  test('leash opens no database file for a worker where only another group may write', async () => {
    // POST /upload (group g7) may write <data>/uploads/*/*; GET /notes' worker may not.
    const planted = join(dataDir, 'uploads', 'bob', 'planted.db');
    const answer = await attack(
      service.base,
      '/notes',
      cookie,
      `const { DatabaseSync } = require('node:sqlite');
       new DatabaseSync(${js(planted)}).exec('CREATE TABLE t (x)');
       return 'created';`,
    );
    assert.equal(answer.ok, false, js(answer));
    assert.equal(existsSync(planted), false);
  });

  test('the proxy holds the worker to the principal the dispatcher resolved, not req.session.user', async () => {
    const rows = await attack(service.base, '/notes', cookie, asBob);
    assert.equal(rows.ok, false, js(rows));
    assert.equal(rows.code, 'ERR_LEASH_DENIED', js(rows));
    assert.match(
      service.output().stderr,
      /isolate: unprivileged#1: ERR_LEASH_DENIED: leash refused sql .*GET \/notes/,
    );
    // alice's own rows, by the same statement, are hers to read.
    const own = await attack(
      service.base,
      '/notes',
      cookie,
      asBob.replace("req.session.user = 'bob';", '').replace("all('bob')", "all('alice')"),
    );
    assert.equal(own.ok, true, js(own));
  });

  test('another route’s statement is refused for the worker, whatever it runs', async () => {
    const answer = await attack(
      service.base,
      '/notes',
      cookie,
      `const { DatabaseSync } = require('node:sqlite');
       return new DatabaseSync(process.env.DATA_DIR + '/notes.db').prepare('SELECT password_hash FROM users WHERE name = ?').all('alice');`,
    );
    assert.equal(answer.ok, false, js(answer));
    assert.equal(answer.code, 'ERR_LEASH_DENIED', js(answer));
  });

  test('a worker outside a login route cannot make its session bob’s', async () => {
    const answer = await attack(
      service.base,
      '/notes',
      cookie,
      `req.session.user = 'bob';
       await new Promise((resolve, reject) => req.session.save((error) => (error ? reject(error) : resolve())));
       return 'saved';`,
    );
    assert.equal(answer.ok, false, js(answer));
    assert.match(answer.message ?? '', /session/);
    const me = await fetch(new URL('/me', service.base), { headers: { cookie } });
    assert.match(await me.text(), /alice/);
  });

  test('statements sent straight down the worker’s channel with a token of its own are refused, and the database is unchanged', async () => {
    const location = { dataDir };
    const before = await snapshotDatabase(location);
    // The worker's end of the channel to the supervisor is descriptor 4 (leash removed the
    // variable naming it, not the descriptor): speak its protocol directly, with a token forged
    // for the login route and bob, the way leash's own remote driver would send a statement.
    const code = `
      const fs = require('node:fs');
      const v8 = require('node:v8');
      const readAll = (buffer) => {
        for (let at = 0; at < buffer.length; ) at += fs.readSync(4, buffer, at, buffer.length - at, null);
        return buffer;
      };
      const call = (message) => {
        const body = v8.serialize(message);
        const head = Buffer.alloc(4);
        head.writeUInt32BE(body.length);
        fs.writeSync(4, Buffer.concat([head, body]));
        return v8.deserialize(readAll(Buffer.alloc(readAll(Buffer.alloc(4)).readUInt32BE(0))));
      };
      const claims = { rid: '1', route: 'POST /login', principal: 'bob', exp: Date.now() + 60000, k: 'guess' };
      const forged = ['v1', Buffer.from(JSON.stringify(claims)).toString('base64url'), 'c2lnbmF0dXJl'].join('.');
      const open = call({ kind: 'sqlite', op: 'open', path: ${js(join(dataDir, 'notes.db'))}, cwd: process.cwd(), options: {} });
      const db = open.value.value;
      const prepared = call({ kind: 'sqlite', op: 'prepare', db, sql: 'DELETE FROM notes WHERE owner = ?', options: {} });
      const statement = prepared.value.value;
      return {
        open: open.ok,
        forged: call({ kind: 'sqlite', op: 'run', statement, args: ['alice'], token: forged }),
        none: call({ kind: 'sqlite', op: 'run', statement, args: ['alice'] }),
        session: call({ kind: 'session', op: 'set', sid: 'x', json: '{"user":"bob"}', token: forged }),
      };`;
    const answer = await attack(service.base, '/notes', cookie, code);
    assert.equal(answer.ok, true, js(answer));
    const value = answer.value as Record<string, { ok: boolean; code?: string; message?: string }>;
    assert.equal(value.open, true, js(value));
    assert.deepEqual([value.forged!.ok, value.forged!.code], [false, 'ERR_LEASH_TOKEN'], js(value));
    assert.match(value.forged!.message!, /forged/);
    // Without a token the statement is the worker's own, after start-up: @background has none.
    assert.deepEqual([value.none!.ok, value.none!.code], [false, 'ERR_LEASH_DENIED'], js(value));
    assert.deepEqual(
      [value.session!.ok, value.session!.code],
      [false, 'ERR_LEASH_TOKEN'],
      js(value),
    );
    assert.deepEqual(await snapshotDatabase(location), before);
    // The worker still serves its route afterwards.
    const notes = await fetch(new URL('/notes', service.base), { headers: { cookie } });
    assert.equal(notes.status, 200);
  });

  test('leash status shows each group’s workers, their memory, requests and refusals', async () => {
    let out = '';
    // The file is rewritten every 2 s: wait for one written after the refusals above.
    for (
      let attempt = 0;
      attempt < 100 && !/unprivileged: 11 routes, \d+ requests, [1-9]\d* refused/.test(out);
      attempt++
    ) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      const result = spawnSync(process.execPath, [BIN, 'status', '--policy', space.policyFile], {
        encoding: 'utf8',
        env: { ...process.env, LEASH_CONFIG: '', NO_COLOR: '1' },
        ...SINGLE_PROCESS_LIMIT,
      });
      assert.equal(result.status, 0, result.stderr);
      out = result.stdout;
    }
    assert.match(out, /isolating on 127\.0\.0\.1:\d+/);
    assert.match(out, /unprivileged: 11 routes, \d+ requests, [1-9]\d* refused/);
    assert.match(out, /unprivileged#1 +pid \d+ +listening +\d+ MiB/);
    assert.match(out, /\d+ workers, \d+ MiB resident in all/);
  });

  test('a worker that dies is started again, its sessions kept, and no other group notices', async () => {
    const exited = await attack(
      service.base,
      '/notes',
      cookie,
      'setTimeout(() => process.exit(3), 50); return "exiting";',
    );
    assert.equal(exited.ok, true, js(exited));
    // Another group's worker answers all along.
    const files = await fetch(new URL('/files/isolation-private.txt', service.base), {
      headers: { cookie },
    });
    assert.equal(await files.text(), 'alice private words');
    const restarting = /worker unprivileged#1 exited \(3\); starting it again/;
    for (let attempt = 0; attempt < 600 && !restarting.test(service.output().stderr); attempt++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.match(service.output().stderr, restarting);
    // The unprivileged group answers 503 until its worker listens again; alice is still logged in.
    let status = 0;
    for (let attempt = 0; attempt < 600 && status !== 200; attempt++) {
      status = (await fetch(new URL('/me', service.base), { headers: { cookie } })).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status, 200, service.output().stderr.slice(-3000));
  });
});

describe('under --isolate without Node’s flags (--layer process,kernel)', {
  skip: NO_KERNEL,
}, () => {
  test('the borrowed read is refused by the worker’s kernel rules alone (EACCES)', async () => {
    const service = await space.start(['enforce', '--isolate', '--layer', 'process,kernel']);
    try {
      assert.match(
        service.output().stderr,
        /workers \(each group's kernel sandbox \+ in-process checks\)/,
      );
      const cookie = await login(service.base, 'alice', 'alice-correct-horse');
      const borrowed = await attack(service.base, '/notes', cookie, borrowFiles);
      const { status, body } = borrowed.value as { status: number; body: string };
      assert.equal(status, 500, body);
      assert.match(body, /EACCES: permission denied/);
    } finally {
      await service.stop();
    }
  });
});
