// Clients that keep connections across routes: an HTTP/2 session (each `session.request`) and the
// undici package used directly (its global Agent keeps sockets alive). Each request is decided in
// its caller's scope, so a route learned calling one loopback service cannot reach another over a
// session or socket another route opened; the other service never receives the request.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { get, startUnder } from './helpers.ts';

interface Client {
  readonly name: string;
  readonly fixture: string;
  /** The service's route that calls `?to=`, and `${route}-warm`, which opens the other host. */
  readonly route: string;
  /** The package the learned connect is attributed to: whose code makes the request. */
  readonly package: string;
  readonly server: 'http' | 'http2';
}

const CLIENTS: readonly Client[] = [
  {
    name: 'http2: each request on a session is decided in its caller’s scope',
    fixture: 'http2-client-service.mjs',
    route: '/h2',
    package: 'app',
    server: 'http2',
  },
  {
    name: 'undici: each request is decided in its caller’s scope, also over a warm socket',
    fixture: 'undici-client-service.mjs',
    route: '/u',
    package: 'undici',
    server: 'http',
  },
];

async function upstream(kind: Client['server'], host: string, body: string) {
  let received = 0;
  const handler = (_request: unknown, response: { end(body: string): void }) => {
    received++;
    response.end(body);
  };
  const server = kind === 'http2' ? http2.createServer(handler) : http.createServer(handler);
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}${kind === 'http' ? '/' : ''}`,
    received: () => received,
    close: () => {
      if (server instanceof http.Server) server.closeAllConnections();
      server.close();
    },
  };
}

for (const client of CLIENTS) {
  test(client.name, async () => {
    const service = fileURLToPath(new URL(`./fixtures/${client.fixture}`, import.meta.url));
    const partner = await upstream(client.server, '127.0.0.1', 'partner');
    const target = await upstream(client.server, '127.0.0.3', 'target');
    const dir = mkdtempSync(join(tmpdir(), 'leash-client-'));
    const env = { WARM_URL: target.url };
    const call = (path: string) => `${client.route}${path}`;
    try {
      const learning = await startUnder(['learn', '--', process.execPath, service], {
        cwd: dir,
        env,
      });
      try {
        for (let i = 0; i < 2; i++)
          assert.equal((await get(learning.base, call(`?to=${partner.url}`))).body, 'partner');
        assert.equal((await get(learning.base, call('-warm'))).body, 'target');
      } finally {
        await learning.stop();
      }
      const runtime = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).runtime;
      assert.deepEqual(runtime[`GET ${client.route}`]?.[client.package]?.['net.connect'], [
        new URL(partner.url).host,
      ]);

      const enforcing = await startUnder(
        ['enforce', '--layer=process', '--', process.execPath, service],
        { cwd: dir, env },
      );
      try {
        assert.equal((await get(enforcing.base, call('-warm'))).body, 'target');
        const warmed = target.received();
        assert.equal((await get(enforcing.base, call(`?to=${partner.url}`))).body, 'partner');
        assert.equal(
          (await get(enforcing.base, call(`?to=${target.url}`))).body,
          'ERR_LEASH_DENIED',
        );
        assert.equal(target.received(), warmed, 'the target received a refused request');
      } finally {
        await enforcing.stop();
      }
    } finally {
      partner.close();
      target.close();
    }
  });
}
