// node:sqlite through the supervisor: a real worker process runs ordinary node:sqlite code with
// the remote DatabaseSync installed, and this test is its supervisor, serving the channel with a
// SQLite host whose gate it controls. The same service code run directly (REMOTE=off) is the
// reference for what the worker must see.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Duplex } from 'node:stream';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import {
  killGroup,
  RUN_LIMIT_MS,
  STARTUP_LIMIT_MS,
  spawnGroup,
  withinLimit,
} from '../../test/support/processes.ts';
import { LeashError } from '../errors.ts';
import type { Gate, GateStatement } from './gate.ts';
import { createSqliteHost, type SqliteHost } from './sqlite-host.ts';
import { installRemoteSqlite } from './sqlite-remote.ts';
import { CHANNEL_FD_ENV, type ChannelClient, serveChannel } from './sync-channel.ts';

const FIXTURES = new URL('../../test/fixtures/isolate/', import.meta.url);
const PRELOAD = fileURLToPath(new URL('sqlite-preload.ts', FIXTURES));
const SERVICE = fileURLToPath(new URL('sqlite-service.mjs', FIXTURES));

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function workDir(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-sqlite-remote-')));
  dirs.push(dir);
  return dir;
}

/** A gate that refuses statements by their text and records what it was asked and told. */
function recordingGate(refuse: (sql: string) => boolean = () => false) {
  const asked: GateStatement[] = [];
  const remembered: { sql: string; rows: readonly Record<string, unknown>[] }[] = [];
  const gate: Gate = (statement) => {
    asked.push(statement);
    if (refuse(statement.sql)) {
      return {
        allowed: false,
        error: new LeashError('ERR_LEASH_DENIED', `not in the policy: ${statement.sql}`),
      };
    }
    return { allowed: true, remember: (rows) => remembered.push({ sql: statement.sql, rows }) };
  };
  return { gate, asked, remembered };
}

interface Worker {
  readonly child: ChildProcess;
  /** The scenario's JSON result, once it has printed it. */
  readonly result: Promise<unknown>;
  /** Settles when the process has exited. */
  readonly exited: Promise<void>;
}

/** Starts the service fixture as an isolated worker whose channel `host` answers. */
function startWorker(
  scenario: string,
  dir: string,
  host: SqliteHost | undefined,
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[] } = {},
): Worker {
  const child = spawnGroup(
    process.execPath,
    [
      '--conditions=leash-source',
      ...(options.nodeArgs ?? []),
      '--import',
      PRELOAD,
      SERVICE,
      scenario,
    ],
    {
      cwd: dir,
      env: {
        ...process.env,
        [CHANNEL_FD_ENV]: '3',
        ...(host === undefined ? { REMOTE: 'off' } : {}),
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    },
  );
  if (host !== undefined) {
    serveChannel(
      child.stdio[3] as Duplex,
      (message) => host.handle(message),
      (reason) => child.emit('error', new Error(`channel broken: ${reason}`)),
    );
  }
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const result = new Promise<unknown>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf('\n');
      if (end !== -1) resolve(JSON.parse(stdout.slice(0, end)));
    });
    child.once('error', reject);
    child.once('exit', (status) =>
      reject(new Error(`${scenario} exited (${status}) without a result: ${stderr}`)),
    );
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    result: withinLimit(
      result,
      STARTUP_LIMIT_MS,
      () => killGroup(child),
      () => `${scenario}: ${stderr}`,
    ),
    exited,
  };
}

/** Runs a scenario to its end as an isolated worker (or, without a host, directly). */
async function runScenario(
  scenario: string,
  dir: string,
  host: SqliteHost | undefined,
  options: { env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[] } = {},
): Promise<unknown> {
  const worker = startWorker(scenario, dir, host, options);
  const result = await worker.result;
  await withinLimit(
    worker.exited,
    RUN_LIMIT_MS,
    () => killGroup(worker.child),
    () => scenario,
  );
  return result;
}

/** Runs a scenario remotely and directly, each on a fresh directory. */
async function bothWays(scenario: string) {
  const recording = recordingGate();
  const dir = workDir();
  const host = createSqliteHost({ mayOpen: () => true, gate: recording.gate });
  try {
    const remote = await runScenario(scenario, dir, host);
    const direct = await runScenario(scenario, workDir(), undefined);
    return { remote, direct, dir, host, ...recording };
  } finally {
    host.close();
  }
}

test('ordinary node:sqlite code gets through the supervisor what it gets from the file', async () => {
  const { remote, direct } = await bothWays('basics');
  assert.deepEqual(remote, direct);
  const result = remote as Record<string, unknown>;
  assert.deepEqual(result.first, { changes: 1, lastInsertRowid: 1 });
  assert.deepEqual(result.one, { id: 1, name: 'tea', price: 3.5, data: { bytes: [1, 2, 3] } });
  assert.equal(result.rowPrototypeIsNull, true);
  assert.equal(result.none, 'undefined');
  assert.deepEqual(result.iterated, [{ name: 'rye' }, { name: 'tea' }]);
  assert.deepEqual(result.arrays, [
    [1, 'tea'],
    [2, 'rye'],
  ]);
  assert.equal(result.expandedSQL, "SELECT id, name, price, data FROM item WHERE name = 'nothing'");
  assert.deepEqual(result.instances, [true, true]);
  assert.equal((result.illegalConstructor as { code: string }).code, 'ERR_ILLEGAL_CONSTRUCTOR');
  assert.equal(result.closed, false);
});

test('a transaction is the worker’s own: a rollback leaves nothing, a commit keeps its row', async () => {
  const { remote, direct, dir } = await bothWays('transaction');
  assert.deepEqual(remote, direct);
  assert.deepEqual(remote, {
    openedLater: false,
    inside: { isTransaction: true, count: 1 },
    afterRollback: { isTransaction: false, count: 0 },
    final: 1,
  });
  const db = new DatabaseSync(join(dir, 'app.db'));
  assert.deepEqual(db.prepare('SELECT name FROM item').all(), [{ __proto__: null, name: 'kept' }]);
  db.close();
});

test('SQLite’s errors reach the worker with node:sqlite’s message, code, errcode and errstr', async () => {
  const { remote, direct } = await bothWays('errors');
  const { badValue: remoteBad, ...remoteRest } = remote as Record<string, Record<string, unknown>>;
  const { badValue: directBad, ...directRest } = direct as Record<string, Record<string, unknown>>;
  assert.deepEqual(remoteRest, directRest);
  assert.deepEqual(remoteRest.unique, {
    name: 'Error',
    message: 'UNIQUE constraint failed: item.name',
    code: 'ERR_SQLITE_ERROR',
    errcode: 2067,
    errstr: 'constraint failed',
  });
  assert.equal(remoteRest.statementClosed!.message, 'statement has been finalized');
  // A function bound as a value cannot cross the channel; node:sqlite does not bind it either.
  assert.equal(remoteBad!.name, 'TypeError');
  assert.equal(remoteBad!.code, 'ERR_INVALID_ARG_TYPE');
  assert.ok(directBad !== undefined);
});

test('bigint ids survive the channel both ways, with setReadBigInts and the readBigInts options', async () => {
  const { remote, direct } = await bothWays('bigints');
  assert.deepEqual(remote, direct);
  assert.deepEqual(remote, {
    lastInsertRowid: ['number', 'bigint'],
    tooLargeRowid: 'ERR_OUT_OF_RANGE',
    exact: [true, true, true],
    asNumber: 'number',
    tooLarge: {
      name: 'RangeError',
      message: `Value is too large to be represented as a JavaScript number: ${2n ** 60n + 7n}`,
      code: 'ERR_OUT_OF_RANGE',
    },
    asBigInt: { bigint: String(2n ** 60n + 7n) },
  });
});

test('the gate sees each statement’s text, parameters and request token, and the rows it returned', async () => {
  const { asked, remembered } = await bothWays('basics');
  // Before the service sets a request token, statements carry none.
  assert.deepEqual(asked[0], {
    dialect: 'sqlite',
    sql: 'CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, price REAL, data BLOB)',
    params: { positional: [] },
    token: undefined,
  });
  const insert = asked.find((s) => s.sql.startsWith('INSERT INTO item (name, price, data)'))!;
  assert.equal(insert.token, 'tok-1');
  assert.deepEqual(insert.params, { positional: ['tea', 3.5, new Uint8Array([1, 2, 3])] });
  const named = asked.find((s) => s.sql.includes(':name'))!;
  assert.deepEqual(named.params, { named: { name: 'rye', price: 4 }, positional: [] });
  assert.ok(asked.every((s, i) => i === 0 || s.token === 'tok-1'));

  const rowsOf = (prefix: string) =>
    remembered
      .filter((r) => r.sql.startsWith(prefix))
      .map((r) => r.rows.map((row) => ({ ...row })));
  assert.deepEqual(rowsOf('SELECT id, name, price, data'), [
    [{ id: 1, name: 'tea', price: 3.5, data: new Uint8Array([1, 2, 3]) }],
  ]);
  assert.deepEqual(rowsOf('SELECT name FROM item WHERE price'), [
    [{ name: 'tea' }, { name: 'rye' }],
  ]);
  assert.deepEqual(rowsOf('SELECT name FROM item ORDER BY id DESC'), [
    [{ name: 'rye' }, { name: 'tea' }],
  ]);
  // Rows returned as arrays are remembered by column name.
  assert.deepEqual(rowsOf('SELECT id, name FROM item ORDER BY id'), [
    [
      { id: 1, name: 'tea' },
      { id: 2, name: 'rye' },
    ],
  ]);
  // Nothing is remembered for a write or for a get that found no row.
  assert.deepEqual(rowsOf('INSERT'), []);
});

test('a statement the gate refuses throws ERR_LEASH_DENIED in the worker and never runs', async () => {
  const dir = workDir();
  const recording = recordingGate((sql) => sql.startsWith('DELETE'));
  const host = createSqliteHost({ mayOpen: () => true, gate: recording.gate });
  const result = (await runScenario('refused', dir, host)) as Record<string, unknown>;
  host.close();
  for (const [call, sql] of [
    ['run', 'DELETE FROM item WHERE name = ?'],
    ['exec', 'DELETE FROM item'],
  ] as const) {
    assert.deepEqual(result[call], {
      name: 'LeashError',
      message: `not in the policy: ${sql}`,
      code: 'ERR_LEASH_DENIED',
    });
  }
  const refusedRun = recording.asked.find((s) => s.sql === 'DELETE FROM item WHERE name = ?')!;
  assert.deepEqual(refusedRun.params, { positional: ['tea'] });
  assert.equal(refusedRun.token, 'tok-2');
  assert.deepEqual(result.left, [{ name: 'tea' }]);
  const db = new DatabaseSync(join(dir, 'app.db'));
  assert.deepEqual(db.prepare('SELECT name FROM item').all(), [{ __proto__: null, name: 'tea' }]);
  db.close();
});

test('mayOpen decides which file a worker opens, named by its real path from the worker’s cwd', async () => {
  const dir = workDir();
  const asked: string[] = [];
  const host = createSqliteHost({
    mayOpen: (path) => {
      asked.push(path);
      return path === join(dir, 'app.db');
    },
    gate: recordingGate().gate,
  });
  const result = (await runScenario('open-refused', dir, host)) as Record<string, unknown>;
  host.close();
  assert.deepEqual(result.secret, {
    name: 'LeashError',
    message: `an isolated worker may not open the SQLite database ${join(dir, 'secret.db')}`,
    code: 'ERR_LEASH_DENIED',
  });
  assert.equal((result.uri as { code: string }).code, 'ERR_LEASH_DENIED');
  assert.match((result.uri as { message: string }).message, /SQLite URI file:app\.db\?mode=ro/);
  assert.equal((result.extension as { code: string }).code, 'ERR_LEASH_DENIED');
  assert.match((result.extension as { message: string }).message, /extensions/);
  assert.equal(result.allowed, true);
  assert.deepEqual(asked, [join(dir, 'secret.db'), join(dir, 'app.db'), join(dir, 'app.db')]);
});

test('what the supervisor cannot offer a worker is refused by name; :memory: stays the worker’s own', async () => {
  const dir = workDir();
  const recording = recordingGate();
  const host = createSqliteHost({ mayOpen: () => true, gate: recording.gate });
  const result = (await runScenario('unsupported', dir, host)) as Record<string, unknown>;
  host.close();
  for (const [key, name] of [
    ['function', 'DatabaseSync.function()'],
    ['aggregate', 'DatabaseSync.aggregate()'],
    ['createSession', 'DatabaseSync.createSession()'],
    ['loadExtension', 'DatabaseSync.loadExtension()'],
    ['serialize', 'DatabaseSync.serialize()'],
    ['createTagStore', 'DatabaseSync.createTagStore()'],
    ['limits', 'DatabaseSync.limits'],
    ['stat', 'StatementSync.stat()'],
    ['backup', 'backup()'],
  ] as const) {
    const error = result[key] as { code: string; message: string };
    assert.equal(error.code, 'ERR_LEASH_DENIED', key);
    assert.ok(error.message.includes(`node:sqlite ${name}`), error.message);
    assert.match(error.message, /not available to an isolated worker/);
  }
  // ATTACH would open a file mayOpen never saw: SQLite refuses it on the host's connections.
  assert.deepEqual(result.attach, {
    name: 'Error',
    message: 'too many attached databases - max 0',
    code: 'ERR_SQLITE_ERROR',
    errcode: 1,
    errstr: 'SQL logic error',
  });
  assert.equal(result.memory, 42);
  assert.equal(result.memoryIsReal, true);
  // The private database never reached the supervisor.
  assert.ok(recording.asked.every((s) => !s.sql.includes('twice')));
});

test('closing the host releases the file a dead worker held locked, and its statements are freed', async () => {
  const dir = workDir();
  const file = join(dir, 'app.db');
  const host = createSqliteHost({ mayOpen: () => true, gate: recordingGate().gate });
  const worker = startWorker('hold', dir, host);
  try {
    assert.deepEqual(await worker.result, { holding: true });
    const writeDirectly = () => {
      const db = new DatabaseSync(file, { timeout: 0 });
      try {
        db.prepare('INSERT INTO item (name) VALUES (?)').run('direct');
        return db
          .prepare('SELECT name FROM item ORDER BY id')
          .all()
          .map((row) => row.name);
      } finally {
        db.close();
      }
    };
    assert.throws(writeDirectly, { message: 'database is locked' });
    killGroup(worker.child);
    await worker.exited;
    // The worker is gone but its connection, held by the supervisor, still has the lock.
    assert.throws(writeDirectly, { message: 'database is locked' });
    assert.deepEqual(host.counts(), { connections: 1, statements: 1 });
    host.close();
    assert.deepEqual(host.counts(), { connections: 0, statements: 0 });
    assert.deepEqual(writeDirectly(), ['direct']);
  } finally {
    killGroup(worker.child);
    host.close();
  }

  // Statements the worker's garbage collector drops are finalized on the host.
  const released = createSqliteHost({ mayOpen: () => true, gate: recordingGate().gate });
  const result = await runScenario('released', workDir(), released, { nodeArgs: ['--expose-gc'] });
  assert.deepEqual(result, { count: 0 });
  assert.ok(released.counts().statements < 100, `${released.counts().statements} statements held`);
  released.close();
});

test('the host takes nothing on the worker’s word', () => {
  const dir = workDir();
  const recording = recordingGate();
  const host = createSqliteHost({ mayOpen: () => true, gate: recording.gate });
  const message = (fields: Record<string, unknown>) => ({ kind: 'sqlite', ...fields });
  const denied = { code: 'ERR_LEASH_DENIED' };
  assert.throws(() => host.handle(message({ op: 'exec', db: 1, sql: 'SELECT 1' })), denied);
  assert.throws(() => host.handle(message({ op: 'run', statement: 7, args: [] })), denied);
  assert.throws(() => host.handle(message({ op: 'drop' })), denied);
  assert.throws(
    () => host.handle(message({ op: 'open', path: 'a.db', cwd: 'relative', options: {} })),
    denied,
  );
  const opened = host.handle(message({ op: 'open', path: 'a.db', cwd: dir, options: {} }));
  const db = (opened as { value: number }).value;
  assert.throws(() => host.handle(message({ op: 'exec', db, sql: 42 })), denied);
  assert.throws(() => host.handle(message({ op: 'exec', db, sql: 'SELECT 1', token: 5 })), denied);
  const prepared = host.handle(message({ op: 'prepare', db, sql: 'SELECT 1 AS one', options: {} }));
  const statement = (prepared as { value: number }).value;
  // The gate judges the text the host prepared, whatever text the message carries.
  host.handle(message({ op: 'get', statement, args: [], sql: 'DELETE FROM x' }));
  assert.equal(recording.asked.at(-1)!.sql, 'SELECT 1 AS one');
  host.close();
  assert.throws(() => host.handle(message({ op: 'get', statement, args: [] })), denied);
});

test('installing makes node:sqlite remote for require and for ESM imports; the restore puts the originals back', async () => {
  const dir = workDir();
  const recording = recordingGate();
  const host = createSqliteHost({ mayOpen: () => true, gate: recording.gate });
  // The channel without the process: the same serialisation, answered in this process.
  const client: ChannelClient = {
    call: (kind, message) => host.handle({ kind, ...deserialize(serialize(message)) }),
  };
  const require = createRequire(import.meta.url);
  try {
    for (const round of [1, 2]) {
      const restore = installRemoteSqlite(client, () => `tok-${round}`);
      const imported = await import('node:sqlite');
      assert.notEqual(imported.DatabaseSync, DatabaseSync);
      assert.equal(require('node:sqlite').DatabaseSync, imported.DatabaseSync);
      assert.equal(process.getBuiltinModule('node:sqlite').DatabaseSync, imported.DatabaseSync);
      const db = new imported.DatabaseSync(join(dir, 'app.db'));
      db.exec('CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY)');
      assert.equal(recording.asked.at(-1)!.token, `tok-${round}`);
      db.close();
      assert.ok(new imported.DatabaseSync(':memory:') instanceof DatabaseSync);
      restore();
      // A module that imported it while installed sees the originals again, as new importers do.
      assert.equal(imported.DatabaseSync, DatabaseSync);
      assert.equal((await import('node:sqlite')).DatabaseSync, DatabaseSync);
      assert.equal(require('node:sqlite').DatabaseSync, DatabaseSync);
    }
  } finally {
    host.close();
  }
});

test('measure: a simple get through the channel and directly (printed, not asserted)', async (t) => {
  const calls = 10_000;
  const host = createSqliteHost({ mayOpen: () => true, gate: recordingGate().gate });
  const remote = (await runScenario('bench', workDir(), host, {
    env: { CALLS: String(calls) },
  })) as { nsPerCall: number };
  host.close();
  const direct = (await runScenario('bench', workDir(), undefined, {
    env: { CALLS: String(calls) },
  })) as { nsPerCall: number };
  const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
  t.diagnostic(
    `get over ${calls} calls: through the channel ${us(remote.nsPerCall)}, directly ${us(direct.nsPerCall)} (×${(remote.nsPerCall / direct.nsPerCall).toFixed(0)})`,
  );
});
