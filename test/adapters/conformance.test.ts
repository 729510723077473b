// The conformance suites every HTTP adapter runs (node:http, Express 4 and 5, Fastify 5), one
// function each: privilege uses are attributed to the route template and unknown paths to
// @unmatched (a plain server, which has no route table, gets its normalised path); the request's
// scope holds through its body's stream events, timers started there and multipart uploads;
// outbound HTTP is decided per request in the route's scope, also over a warm keep-alive socket;
// static files are one scope per mount; and every enforced refusal happens before the effect:
// a path traversal and an SSRF to a loopback host the route never called here; a SQL injection
// through a statement a route pastes a value into and a shell injection through a command line in
// the SQL suites (sql-conformance.ts, a file per driver).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { get } from '../runtime/helpers.ts';
import { ADAPTERS, type Adapter, runtimeRules, template } from './adapters.ts';
import { service } from './service.ts';

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
  if (adapter.staticScope !== undefined) staticMounts(adapter);
}
