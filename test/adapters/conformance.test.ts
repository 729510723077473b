// The conformance suites every HTTP adapter runs (node:http, Express 4 and 5, Fastify 5), one
// function each: privilege uses are attributed to the route template and unknown paths to
// @unmatched (a plain server, which has no route table, gets its normalised path); the request's
// scope holds through its body's stream events, timers started there and multipart uploads;
// outbound HTTP is decided per request in the route's scope, also over a warm keep-alive socket;
// static files are one scope per mount; and every enforced refusal happens before the effect:
// a path traversal, an SSRF to a loopback host the route never called, a SQL injection through a
// statement a route pastes a value into, and a shell injection through a command line.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { get, type Running, startUnder } from '../runtime/helpers.ts';
import { type RunningMariaDB, startMariaDB } from '../support/mariadb.ts';
import { readPolicyJson } from '../support/policy-json.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';
import { ADAPTERS, type Adapter, fixturePath, runtimeRules, template } from './adapters.ts';

interface Service {
  readonly dir: string;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  start(mode: 'learn' | 'enforce'): Promise<Running>;
  policy(): Record<string, unknown>;
}

function service(adapter: Adapter, env: NodeJS.ProcessEnv = {}): Service {
  const dir = mkdtempSync(join(tmpdir(), 'leash-adapter-'));
  const dataDir = join(dir, 'data');
  for (const sub of ['', 'uploads', 'bodies', 'assets', 'assets/css'])
    mkdirSync(join(dataDir, sub), { recursive: true });
  for (const name of ['1', '2', '3', '4', 'fallback.txt'])
    writeFileSync(join(dataDir, name), `note ${name}`);
  writeFileSync(
    join(dir, 'leash.config.json'),
    JSON.stringify({ dataDirs: ['./data'], principal: 'req.user' }),
  );
  const fullEnv = { DATA_DIR: dataDir, ...adapter.env(), ...env };
  return {
    dir,
    dataDir,
    env: fullEnv,
    start: (mode) =>
      startUnder(
        mode === 'learn'
          ? ['learn', '--', process.execPath, fixturePath(adapter)]
          : ['enforce', '--layer=process', '--', process.execPath, fixturePath(adapter)],
        { cwd: dir, env: fullEnv },
      ),
    policy: () => readPolicyJson(join(dir, 'leash.policy.json'), { app: dir }),
  };
}

/** Route templates, @unmatched, and a path traversal refused before the file is read. */
function routeTemplates(adapter: Adapter): void {
  test(`${adapter.name}: scope is the route template, unknown paths are ${adapter.unmatched ?? 'not the routes’'}, refusals come first`, async () => {
    const svc = service(adapter);
    const learning = await svc.start('learn');
    try {
      for (const id of ['1', '2', '3'])
        assert.equal((await get(learning.base, `/notes/${id}`)).body, `note ${id}`);
      assert.equal((await get(learning.base, '/nope/deeper')).status, 404);
    } finally {
      await learning.stop();
    }
    const runtime = svc.policy().runtime as Record<
      string,
      Record<string, Record<string, string[]>>
    >;
    assert.deepEqual(
      runtime[template(adapter, 'GET /notes/:id')]?.app?.['fs.read'],
      [`${svc.dataDir}/*`],
      JSON.stringify(runtime, null, 2),
    );
    if (adapter.unmatched !== undefined)
      assert.deepEqual(
        runtime[adapter.unmatched]?.app?.['fs.read'],
        [`${svc.dataDir}/fallback.txt`],
        Object.keys(runtime).join(', '),
      );

    const enforcing = await svc.start('enforce');
    try {
      assert.equal((await get(enforcing.base, '/notes/4')).body, 'note 4');
      const refused = await get(
        enforcing.base,
        `/notes/${encodeURIComponent('../../../../etc/hostname')}`,
      );
      assert.match(refused.body, /ERR_LEASH_DENIED/);
    } finally {
      await enforcing.stop();
    }
  });
}

async function post(base: string, path: string, body: string | FormData) {
  const response = await fetch(new URL(path, base), {
    method: 'POST',
    body,
    headers: typeof body === 'string' ? { 'content-type': 'application/octet-stream' } : {},
  });
  return { status: response.status, body: await response.text() };
}

function multipart(name: string, size: number): FormData {
  const form = new FormData();
  form.append('file', new Blob([Buffer.alloc(size, name)]), name);
  return form;
}

/**
 * A body read through `data`/`end` listeners and written from a timer started in `end`, and a
 * multipart upload of several socket reads, are the route's: learned under it (nothing in
 * @background) and allowed under enforce for values never seen while learning.
 */
function contextThroughStreams(adapter: Adapter): void {
  test(`${adapter.name}: raw-body and upload writes stay in the route's scope`, async () => {
    const svc = service(adapter);
    const big = 'x'.repeat(512 * 1024);
    const learning = await svc.start('learn');
    try {
      for (const name of ['a.bin', 'b.bin', 'c.bin']) {
        assert.deepEqual(await post(learning.base, `/raw?name=${name}`, big), {
          status: 200,
          body: name,
        });
        assert.deepEqual(await post(learning.base, '/upload', multipart(name, 1 << 20)), {
          status: 200,
          body: name,
        });
      }
    } finally {
      await learning.stop();
    }
    const writes = runtimeRules(svc.policy().runtime as Record<string, unknown>).filter(
      ([, , capability, resource]) =>
        capability === 'fs.write' &&
        (resource!.startsWith(`${join(svc.dataDir, 'uploads')}/`) ||
          resource!.startsWith(`${join(svc.dataDir, 'bodies')}/`)),
    );
    const scopes = new Set(writes.map(([scope, , , resource]) => `${scope} ${resource}`));
    assert.deepEqual(
      [...scopes].sort(),
      [
        `POST /raw ${join(svc.dataDir, 'bodies')}/*.bin`,
        `POST /upload ${join(svc.dataDir, 'uploads')}/*.bin`,
      ],
      JSON.stringify(writes),
    );

    const enforcing = await svc.start('enforce');
    try {
      assert.deepEqual(await post(enforcing.base, '/raw?name=new.bin', big), {
        status: 200,
        body: 'new.bin',
      });
      assert.deepEqual(await post(enforcing.base, '/upload', multipart('new.bin', 1 << 20)), {
        status: 200,
        body: 'new.bin',
      });
      assert.equal(readFileSync(join(svc.dataDir, 'uploads', 'new.bin')).length, 1 << 20);
    } finally {
      await enforcing.stop();
    }
  });
}

/** A loopback HTTP server that counts the requests it receives. */
async function upstream(host: string, body: string) {
  let received = 0;
  const server = http.createServer((_request, response) => {
    received++;
    response.end(body);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    received: () => received,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/**
 * A route learned calling one loopback service cannot call another under enforce, through
 * http.get on a keep-alive agent or through fetch, even while a socket to that other service is
 * warm in the same pool (another route's), nor one that no route ever called (an SSRF): neither
 * service receives the request.
 */
function outboundPerRequest(adapter: Adapter): void {
  test(`${adapter.name}: outbound HTTP is decided per request, also over a warm socket`, async () => {
    const partner = await upstream('127.0.0.1', 'partner');
    const target = await upstream('127.0.0.3', 'target');
    const stranger = await upstream('127.0.0.9', 'stranger');
    const svc = service(adapter, { WARM_URL: target.url });
    try {
      const learning = await svc.start('learn');
      try {
        for (const route of ['/proxy', '/proxy-fetch'])
          for (let i = 0; i < 2; i++)
            assert.equal((await get(learning.base, `${route}?to=${partner.url}`)).body, 'partner');
        assert.equal((await get(learning.base, '/warm')).body, 'target target');
      } finally {
        await learning.stop();
      }
      const partnerAt = new URL(partner.url).host;
      const targetAt = new URL(target.url).host;
      const connects = runtimeRules(svc.policy().runtime as Record<string, unknown>)
        .filter(([, , capability]) => capability === 'net.connect')
        .map(([scope, , , resource]) => `${scope} ${resource}`);
      assert.deepEqual([...new Set(connects)].sort(), [
        `GET /proxy ${partnerAt}`,
        `GET /proxy-fetch ${partnerAt}`,
        `GET /warm ${targetAt}`,
      ]);

      const enforcing = await svc.start('enforce');
      try {
        assert.equal((await get(enforcing.base, '/warm')).body, 'target target');
        const warmed = target.received();
        for (const route of ['/proxy', '/proxy-fetch']) {
          assert.equal((await get(enforcing.base, `${route}?to=${partner.url}`)).body, 'partner');
          assert.equal(
            (await get(enforcing.base, `${route}?to=${target.url}`)).body,
            'ERR_LEASH_DENIED',
            `${route} to a host only another route may call`,
          );
          assert.equal(
            (await get(enforcing.base, `${route}?to=${stranger.url}`)).body,
            'ERR_LEASH_DENIED',
            `${route} to a host no route called`,
          );
        }
        assert.equal(target.received(), warmed, 'the target received a refused request');
        assert.equal(stranger.received(), 0, 'the stranger received a refused request');
      } finally {
        await enforcing.stop();
      }
    } finally {
      partner.close();
      target.close();
      stranger.close();
    }
  });
}

async function asUser(base: string, user: string, path: string, json?: object) {
  const response = await fetch(new URL(path, base), {
    method: json === undefined ? 'GET' : 'POST',
    headers: {
      'x-user': user,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  return { status: response.status, body: await response.text() };
}

/** The SQL driver's extra environment: for pg and mysql2, a database of its own on the file's server. */
async function databaseFor(driver: string): Promise<NodeJS.ProcessEnv> {
  if (driver === 'mysql2')
    return { MYSQL_URL: await mariadb.createDatabase(`conformance_${++databases}`) };
  if (driver !== 'pg') return {};
  const name = `conformance_${++databases}`;
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(postgres.url);
  url.pathname = `/${name}`;
  return { DATABASE_URL: url.href };
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
function inputsSeenBySql(adapter: Adapter, driver: string): void {
  test(`${adapter.name} × ${driver}: the sql module learns request inputs and the principal, injections are refused`, async () => {
    const svc = service(adapter, { SQL_DRIVER: driver, ...(await databaseFor(driver)) });
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

/** The SQL drivers every framework's SQL routes run on. */
const SQL_DRIVERS = ['node:sqlite', 'better-sqlite3', 'sqlite3', 'pg', 'mysql2'];

/** The PostgreSQL and MariaDB servers of the pg and mysql2 services, a database per service. */
let postgres: RunningPostgres;
let mariadb: RunningMariaDB;
let databases = 0;
before(async () => {
  [postgres, mariadb] = await Promise.all([startPostgres(), startMariaDB()]);
});
after(() => Promise.all([postgres?.stop(), mariadb?.stop()]));

/** Files served by static-file middleware are one scope per mount point, not one per file. */
function staticMounts(adapter: Adapter): void {
  test(`${adapter.name}: static files are one scope per mount`, async () => {
    const svc = service(adapter);
    for (const name of ['a.css', 'b.css', 'c.css'])
      writeFileSync(join(svc.dataDir, 'assets', 'css', name), name);
    writeFileSync(join(svc.dataDir, 'assets', 'logo.txt'), 'logo');
    const learning = await svc.start('learn');
    try {
      for (const name of ['a.css', 'b.css', 'c.css'])
        assert.equal((await get(learning.base, `/assets/css/${name}`)).body, name);
      assert.equal((await get(learning.base, '/assets/logo.txt')).body, 'logo');
    } finally {
      await learning.stop();
    }
    const scopes = new Set(
      runtimeRules(svc.policy().runtime as Record<string, unknown>)
        .filter(([, , , resource]) => resource!.startsWith(`${join(svc.dataDir, 'assets')}/`))
        .map(([scope]) => scope),
    );
    assert.deepEqual([...scopes], [adapter.staticScope]);
    assert.equal(existsSync(join(svc.dataDir, 'assets', 'logo.txt')), true);
  });
}

// socket.io replaces the server's request listener with its own, which calls Express's: the app
// is still found, so routes keep their templates and static files their mount's scope.
const express5 = ADAPTERS.find((adapter) => adapter.name === 'Express 5')!;
const behindSocketIo = {
  ...express5,
  name: 'Express 5 behind socket.io',
  env: () => ({ SOCKET_IO: '1' }),
};
routeTemplates(behindSocketIo);
staticMounts(behindSocketIo);

for (const adapter of ADAPTERS) {
  routeTemplates(adapter);
  contextThroughStreams(adapter);
  outboundPerRequest(adapter);
  for (const driver of SQL_DRIVERS) inputsSeenBySql(adapter, driver);
  if (adapter.staticScope !== undefined) staticMounts(adapter);
}
