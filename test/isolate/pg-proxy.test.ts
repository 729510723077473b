// The isolation proxy for PostgreSQL between real `pg` clients (and a raw protocol client, for
// what `pg` never sends) and a real PostgreSQL server on loopback: every statement is the gate's to
// allow; refused ones never reach the database and leave the client's connection usable.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test as nodeTest } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { LeashError } from '../../src/errors.ts';
import { type Gate, type GateStatement, withToken } from '../../src/isolate/gate.ts';
import {
  createPgProxy,
  type PgListener,
  type PgProxy,
  upstreamFromUrl,
} from '../../src/isolate/pg-proxy.ts';
import {
  type Message,
  MessageReader,
  message,
  parseMessage,
  queryMessage,
  readFields,
  startupMessage,
} from '../../src/isolate/pg-wire.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';

const TOKEN = 'good';

/** A hang fails its test instead of the file (the server is the harness's to stop). */
const test = (name: string, fn: () => Promise<void>): void => {
  nodeTest(name, { timeout: 60_000 }, fn);
};

/** The statements the test gate allows (with the token "good"), as the worker writes them. */
const ALLOWED = new Set([
  'SELECT 1 AS one',
  'SELECT current_query() AS q',
  'SELECT current_query() AS q, $1::text AS p',
  'SELECT id, name FROM items ORDER BY id',
  'SELECT name FROM items WHERE id = $1',
  'INSERT INTO items (id, name) VALUES ($1, $2)',
  'SELECT length($1::bytea) AS n',
  'SELECT g AS n FROM generate_series(1, 1500) AS g',
  'SELECT NULL::text AS nothing, 2 AS two',
  'SELECT 1 AS a; SELECT 2 AS b',
  'PREPARE sneaky AS DELETE FROM items',
  'COPY items (id, name) FROM STDIN',
  'SELECT current_user AS u',
  'BEGIN',
  'ROLLBACK',
]);

interface TestGate {
  readonly gate: Gate;
  readonly seen: GateStatement[];
  readonly remembered: { sql: string; rows: readonly Record<string, unknown>[] }[];
}

function testGate(allowed: (sql: string) => boolean = (sql) => ALLOWED.has(sql)): TestGate {
  const seen: GateStatement[] = [];
  const remembered: TestGate['remembered'] = [];
  const gate: Gate = (statement) => {
    seen.push(statement);
    if (statement.token !== TOKEN)
      return {
        allowed: false,
        error: new LeashError('ERR_LEASH_TOKEN', 'isolation token refused: missing or unknown'),
      };
    if (!allowed(statement.sql))
      return {
        allowed: false,
        error: new LeashError('ERR_LEASH_DENIED', `leash refused sql ${statement.sql}`),
      };
    return { allowed: true, remember: (rows) => remembered.push({ sql: statement.sql, rows }) };
  };
  return { gate, seen, remembered };
}

const t = (sql: string): string => withToken(sql, TOKEN);

let postgres: RunningPostgres;
let admin: pg.Client;
let proxy: PgProxy;
const logs: string[] = [];

before(async () => {
  postgres = await startPostgres({
    hba: [
      'host leash leash_trust 127.0.0.1/32 trust',
      'host leash leash_clear 127.0.0.1/32 password',
      'host leash leash_md5 127.0.0.1/32 md5',
    ],
  });
  admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
  await admin.query(`INSERT INTO items VALUES (1, 'one'), (2, 'two')`);
  await admin.query('CREATE ROLE leash_trust LOGIN');
  await admin.query(`CREATE ROLE leash_clear LOGIN PASSWORD 'clear-pw'`);
  await admin.query(`SET password_encryption = 'md5'`);
  await admin.query(`CREATE ROLE leash_md5 LOGIN PASSWORD 'md5-pw'`);
  proxy = createPgProxy({ upstream: upstreamFromUrl(postgres.url), log: (m) => logs.push(m) });
});

after(async () => {
  await proxy?.close();
  await admin?.end();
  await postgres?.stop();
});

/** A `pg` client of the proxy, with the made-up credentials a worker has. */
async function workerClient(listener: PgListener, extra: pg.ClientConfig = {}): Promise<pg.Client> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port: listener.port,
    user: 'worker',
    password: 'not-the-password',
    database: 'anything',
    ...extra,
  });
  await client.connect();
  return client;
}

async function withClient<T>(gate: Gate, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const listener = await proxy.listen(gate);
  const client = await workerClient(listener);
  try {
    return await body(client);
  } finally {
    await client.end();
    await listener.close();
  }
}

async function itemNames(): Promise<string[]> {
  const { rows } = await admin.query('SELECT name FROM items ORDER BY id');
  return rows.map((row: { name: string }) => row.name);
}

const refused = (code: string) => (error: unknown) => {
  const e = error as { code?: string; detail?: string };
  assert.equal(e.code, '42501');
  assert.equal(e.detail, `leash: ${code}`);
  return true;
};

test('a simple query runs upstream without its token comment; a refused one never reaches the database', async () => {
  const { gate, seen } = testGate();
  await withClient(gate, async (client) => {
    const { rows } = await client.query(t('SELECT current_query() AS q'));
    assert.deepEqual(rows, [{ q: 'SELECT current_query() AS q' }], 'the database saw no comment');
    assert.deepEqual(seen.at(-1), {
      dialect: 'postgres',
      sql: 'SELECT current_query() AS q',
      params: { positional: [] },
      token: TOKEN,
    });

    const before = await itemNames();
    await assert.rejects(client.query(t('DROP TABLE items')), refused('ERR_LEASH_DENIED'));
    await assert.rejects(
      client.query(t(`INSERT INTO items (id, name) VALUES (3, 'three')`)),
      refused('ERR_LEASH_DENIED'),
    );
    await assert.rejects(client.query('SELECT 1 AS one'), refused('ERR_LEASH_TOKEN'));
    assert.deepEqual(await itemNames(), before, 'the table is there and unchanged');
    assert.deepEqual((await client.query(t('SELECT 1 AS one'))).rows, [{ one: 1 }]);
  });
});

test('an extended query is decided at Bind with its parameters; after a refusal the client goes on', async () => {
  const { gate, seen } = testGate();
  await withClient(gate, async (client) => {
    await client.query(t('INSERT INTO items (id, name) VALUES ($1, $2)'), [7, 'seven']);
    assert.deepEqual(seen.at(-1)?.params, { positional: ['7', 'seven'] });
    const echoed = await client.query(t('SELECT current_query() AS q, $1::text AS p'), ['x']);
    assert.deepEqual(echoed.rows, [{ q: 'SELECT current_query() AS q, $1::text AS p', p: 'x' }]);
    // A Buffer goes as a binary parameter, and reaches the gate as bytes.
    const length = await client.query(t('SELECT length($1::bytea) AS n'), [Buffer.from([1, 2, 3])]);
    assert.deepEqual(length.rows, [{ n: 3 }]);
    assert.deepEqual(seen.at(-1)?.params, { positional: [Buffer.from([1, 2, 3])] });

    await assert.rejects(
      client.query(t('DELETE FROM items WHERE id = $1'), [7]),
      refused('ERR_LEASH_DENIED'),
    );
    assert.deepEqual(seen.at(-1)?.params, { positional: ['7'] });
    assert.ok((await itemNames()).includes('seven'), 'the refused DELETE did not run');
    const { rows } = await client.query(t('SELECT name FROM items WHERE id = $1'), [7]);
    assert.deepEqual(rows, [{ name: 'seven' }]);
  });
});

test('a refused statement in a transaction aborts it, as a server error would', async () => {
  const { gate } = testGate();
  await withClient(gate, async (client) => {
    await client.query(t('BEGIN'));
    await client.query(t('INSERT INTO items (id, name) VALUES ($1, $2)'), [20, 'twenty']);
    await assert.rejects(client.query(t('DELETE FROM items')), refused('ERR_LEASH_DENIED'));
    await assert.rejects(client.query(t('SELECT 1 AS one')), { code: '25P02' });
    await client.query(t('ROLLBACK'));
    assert.equal((await itemNames()).includes('twenty'), false);
    assert.deepEqual((await client.query(t('SELECT 1 AS one'))).rows, [{ one: 1 }]);
  });
});

test('remember() gets the rows of an allowed statement by column name, at most 1000 of them', async () => {
  const { gate, remembered } = testGate();
  await withClient(gate, async (client) => {
    await client.query(t('SELECT id, name FROM items ORDER BY id'));
    assert.deepEqual(remembered.at(-1)?.rows.slice(0, 2), [
      { id: '1', name: 'one' },
      { id: '2', name: 'two' },
    ]);
    await client.query(t('SELECT name FROM items WHERE id = $1'), [2]);
    assert.deepEqual(remembered.at(-1), {
      sql: 'SELECT name FROM items WHERE id = $1',
      rows: [{ name: 'two' }],
    });
    await client.query(t('SELECT NULL::text AS nothing, 2 AS two'));
    assert.deepEqual(remembered.at(-1)?.rows, [{ nothing: null, two: '2' }]);

    const before = remembered.length;
    const { rows } = await client.query(t('SELECT g AS n FROM generate_series(1, 1500) AS g'));
    assert.equal(rows.length, 1500, 'the client gets every row');
    const kept = remembered.slice(before).flatMap((entry) => entry.rows);
    assert.equal(kept.length, 1000);
    assert.deepEqual(kept.at(-1), { n: '1000' });
  });
});

test('stacked statements in one simple query are one decision, each result remembered', async () => {
  const { gate, seen, remembered } = testGate();
  await withClient(gate, async (client) => {
    const results = (await client.query(
      t('SELECT 1 AS a; SELECT 2 AS b'),
    )) as unknown as pg.QueryResult[];
    assert.deepEqual(
      results.map((result) => result.rows),
      [[{ a: 1 }], [{ b: 2 }]],
    );
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.sql, 'SELECT 1 AS a; SELECT 2 AS b');
    assert.deepEqual(
      remembered.map((entry) => entry.rows),
      [[{ a: '1' }], [{ b: '2' }]],
    );
    await assert.rejects(
      client.query(t('SELECT 1 AS a; DROP TABLE items')),
      refused('ERR_LEASH_DENIED'),
    );
    assert.ok((await itemNames()).length > 0, 'items is still there');
  });
});

test('a named prepared statement is decided at every Bind, with the text and token of its Parse', async () => {
  const { gate, seen } = testGate();
  await withClient(gate, async (client) => {
    const byId = { name: 'by-id', text: t('SELECT name FROM items WHERE id = $1') };
    assert.deepEqual((await client.query({ ...byId, values: [1] })).rows, [{ name: 'one' }]);
    // The second run sends only Bind: the proxy decides it from the Parse it remembered.
    assert.deepEqual((await client.query({ ...byId, values: [2] })).rows, [{ name: 'two' }]);
    assert.deepEqual(
      seen.map((s) => [s.sql, s.token, s.params.positional]),
      [
        ['SELECT name FROM items WHERE id = $1', TOKEN, ['1']],
        ['SELECT name FROM items WHERE id = $1', TOKEN, ['2']],
      ],
    );
  });
});

test('the proxy logs in upstream with trust, a cleartext password, md5 or SCRAM-SHA-256, whatever the worker sends', async () => {
  const { gate } = testGate();
  const url = new URL(postgres.url);
  const as = (user: string, password?: string): string => {
    const other = new URL(url);
    other.username = user;
    other.password = password ?? '';
    return other.href;
  };
  const upstreams: [string, string][] = [
    ['leash_trust', as('leash_trust')],
    ['leash_clear', as('leash_clear', 'clear-pw')],
    ['leash_md5', as('leash_md5', 'md5-pw')],
    ['leash', postgres.url], // initdb --auth=scram-sha-256
  ];
  for (const [user, upstreamUrl] of upstreams) {
    const own = createPgProxy({ upstream: upstreamFromUrl(upstreamUrl) });
    try {
      const listener = await own.listen(gate);
      const client = await workerClient(listener);
      try {
        const { rows } = await client.query(t('SELECT current_user AS u'));
        assert.deepEqual(rows, [{ u: user }]);
      } finally {
        await client.end();
      }
    } finally {
      await own.close();
    }
  }
  // A wrong password upstream: the worker gets the server's refusal and no connection.
  const wrong = createPgProxy({ upstream: upstreamFromUrl(as('leash', 'wrong')) });
  try {
    const listener = await wrong.listen(gate);
    await assert.rejects(workerClient(listener), { code: '28P01' });
  } finally {
    await wrong.close();
  }
});

/** A protocol-level client: what it is sent, message by message. */
class RawClient {
  readonly socket: net.Socket;
  readonly #reader = new MessageReader(1 << 24);
  readonly #messages: Message[] = [];
  #wake: (() => void) | undefined;
  /** Set while the one-byte answer to SSLRequest (not a message) is awaited. */
  #sslAnswer: ((answer: string) => void) | undefined;
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.#sslAnswer !== undefined) {
        this.#sslAnswer(chunk.subarray(0, 1).toString());
        this.#sslAnswer = undefined;
        chunk = chunk.subarray(1);
      }
      this.#reader.push(chunk);
      for (let frame = this.#reader.next(); frame?.ok; frame = this.#reader.next())
        this.#messages.push(frame.message);
      this.#wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  /** SSLRequest (answered 'N'), then start-up up to ReadyForQuery. */
  async startup(): Promise<void> {
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8);
    ssl.writeInt32BE(80_877_103, 4);
    const answer = new Promise<string>((resolve) => {
      this.#sslAnswer = resolve;
    });
    this.socket.write(ssl);
    assert.equal(await answer, 'N');
    this.socket.write(startupMessage(new Map([['user', 'worker']])));
    await this.until('Z');
  }

  /** Messages up to and including the next of `type`. */
  async until(type: string): Promise<Message[]> {
    const out: Message[] = [];
    for (;;) {
      const next = this.#messages.shift();
      if (next !== undefined) {
        out.push(next);
        if (next.type === type) return out;
        continue;
      }
      if (this.closed) throw new Error(`closed before ${type}; got ${out.map((m) => m.type)}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  async whenClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => (this.#wake = resolve));
  }
}

function bindMessage(statement: string, params: string[]): Buffer {
  return message(
    'B',
    '',
    statement,
    { int16: 0 },
    { int16: params.length },
    ...params.flatMap((p) => [{ int32: Buffer.byteLength(p) }, Buffer.from(p)]),
    { int16: 0 },
  );
}
const describePortal = (): Buffer => message('D', Buffer.from('P'), '');
const execute = (): Buffer => message('E', '', { int32: 0 });
const sync = (): Buffer => message('S');
const types = (messages: Message[]): string => messages.map((m) => m.type).join('');
const sqlstate = (m: Message | undefined): string | undefined =>
  m === undefined ? undefined : readFields(m.body)?.get('C');

test('pipelined statements are answered in order when those in between are refused', async () => {
  const { gate } = testGate();
  const listener = await proxy.listen(gate);
  const raw = await RawClient.connect(listener.port);
  try {
    await raw.startup();
    raw.socket.write(
      Buffer.concat([
        parseMessage({ name: '', sql: t('SELECT name FROM items WHERE id = $1'), paramTypes: [] }),
        bindMessage('', ['1']),
        describePortal(),
        execute(),
        sync(),
        queryMessage(t('DROP TABLE items')),
        // A statement prepared in SQL: the proxy never saw its text, so a Bind to it is refused.
        queryMessage(t('PREPARE sneaky AS DELETE FROM items')),
        bindMessage('sneaky', []),
        execute(),
        sync(),
        queryMessage(t('SELECT 1 AS one')),
      ]),
    );
    const first = await raw.until('Z');
    assert.equal(types(first), '12TDCZ');
    const drop = await raw.until('Z');
    assert.equal(types(drop), 'EZ');
    assert.equal(sqlstate(drop[0]), '42501');
    assert.equal(types(await raw.until('Z')), 'CZ', 'PREPARE ran (the gate allowed it)');
    const sneaky = await raw.until('Z');
    assert.equal(types(sneaky), 'EZ');
    assert.match(readFields(sneaky[0]!.body)?.get('M') ?? '', /did not see it prepared/);
    assert.equal(types(await raw.until('Z')), 'TDCZ');
    assert.deepEqual(await itemNames(), ['one', 'two', 'seven']);
  } finally {
    raw.socket.destroy();
    await listener.close();
  }
});

test('COPY FROM STDIN is decided like any statement, then its data is relayed', async () => {
  const { gate } = testGate();
  const listener = await proxy.listen(gate);
  const raw = await RawClient.connect(listener.port);
  try {
    await raw.startup();
    raw.socket.write(queryMessage(t('COPY items (id, name) FROM STDIN')));
    assert.equal(types(await raw.until('G')), 'G');
    raw.socket.write(Buffer.concat([message('d', Buffer.from('30\tthirty\n')), message('c')]));
    assert.equal(types(await raw.until('Z')), 'CZ');
    assert.ok((await itemNames()).includes('thirty'));
    // A COPY the gate does not allow never starts.
    raw.socket.write(queryMessage(t('COPY items TO STDOUT')));
    const out = await raw.until('Z');
    assert.equal(types(out), 'EZ');
    assert.equal(sqlstate(out[0]), '42501');
  } finally {
    raw.socket.destroy();
    await listener.close();
  }
});

test('a worker connection that breaks the protocol is closed; the others keep working', async () => {
  const { gate } = testGate();
  const listener = await proxy.listen(gate);
  const client = await workerClient(listener);
  try {
    const oversized = await RawClient.connect(listener.port);
    await oversized.startup();
    const head = Buffer.alloc(5);
    head.write('Q');
    head.writeInt32BE(0x7fff_fff0, 1);
    oversized.socket.write(head);
    await oversized.whenClosed();

    const unknown = await RawClient.connect(listener.port);
    await unknown.startup();
    unknown.socket.write(message('p', 'a password, after start-up'));
    await unknown.whenClosed();

    const garbage = await RawClient.connect(listener.port);
    garbage.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await garbage.whenClosed();

    assert.ok(
      logs.some((line) =>
        /closing a worker connection: it sent a message "Q" of \d+ bytes/.test(line),
      ),
    );
    assert.ok(logs.some((line) => /an unexpected message "p"/.test(line)));
    assert.deepEqual((await client.query(t('SELECT 1 AS one'))).rows, [{ one: 1 }]);
  } finally {
    await client.end();
    await listener.close();
  }
});

/** Upstream connections of the proxy that a worker named `application_name`. */
async function backends(name: string): Promise<number> {
  const { rows } = await admin.query(
    'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
    [name],
  );
  return rows[0].n;
}

test('close() ends every listener and connection, upstream ones included, and leaves no handle', async () => {
  const tcp = (): number =>
    process.getActiveResourcesInfo().filter((kind) => kind.startsWith('TCP')).length;
  // Connections of earlier tests may still be closing: wait for admin's to be the only one.
  for (let i = 0; i < 200 && tcp() > 1; i++) await sleep(25);
  const baseline = tcp();
  assert.equal(baseline, 1);
  const own = createPgProxy({ upstream: upstreamFromUrl(postgres.url) });
  const { gate } = testGate();
  const listener = await own.listen(gate);
  const client = await workerClient(listener, { application_name: 'leash-close-test' });
  const ended = new Promise((resolve) => client.once('end', resolve));
  client.on('error', () => {});
  assert.equal(await backends('leash-close-test'), 1);

  await own.close();
  await ended;
  await assert.rejects(
    new Promise((resolve, reject) =>
      net
        .connect({ host: '127.0.0.1', port: listener.port })
        .once('connect', resolve)
        .once('error', reject),
    ),
    { code: 'ECONNREFUSED' },
  );
  await assert.rejects(own.listen(gate), { code: 'ERR_LEASH_USAGE' });
  // The server notices the closed connection and ends its backend a moment later.
  for (let i = 0; i < 200 && (await backends('leash-close-test')) > 0; i++) await sleep(25);
  assert.equal(await backends('leash-close-test'), 0);
  for (let i = 0; i < 200 && tcp() > baseline; i++) await sleep(25);
  assert.equal(tcp(), baseline);
});
