// HTTP/2 client sessions outlive the route that opened them: each `session.request` is decided in
// its caller's scope, so a route learned calling one loopback service cannot reach another over a
// session another route opened; the other service never receives the request.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { get, startUnder } from './helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/http2-client-service.mjs', import.meta.url));

async function h2Upstream(host: string, body: string) {
  let received = 0;
  const server = http2.createServer((_request, response) => {
    received++;
    response.end(body);
  });
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://${host}:${port}`, received: () => received, close: () => server.close() };
}

test('http2: each request on a session is decided in its caller’s scope', async () => {
  const partner = await h2Upstream('127.0.0.1', 'partner');
  const target = await h2Upstream('127.0.0.3', 'target');
  const dir = mkdtempSync(join(tmpdir(), 'leash-h2-'));
  const env = { WARM_URL: target.url };
  try {
    const learning = await startUnder(['learn', '--', process.execPath, SERVICE], {
      cwd: dir,
      env,
    });
    try {
      for (let i = 0; i < 2; i++)
        assert.equal((await get(learning.base, `/h2?to=${partner.url}`)).body, 'partner');
      assert.equal((await get(learning.base, '/h2-warm')).body, 'target');
    } finally {
      await learning.stop();
    }
    const runtime = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).runtime;
    assert.deepEqual(runtime['GET /h2']?.app?.['net.connect'], [new URL(partner.url).host]);

    const enforcing = await startUnder(
      ['enforce', '--layer=process', '--', process.execPath, SERVICE],
      { cwd: dir, env },
    );
    try {
      assert.equal((await get(enforcing.base, '/h2-warm')).body, 'target');
      const warmed = target.received();
      assert.equal((await get(enforcing.base, `/h2?to=${partner.url}`)).body, 'partner');
      assert.equal((await get(enforcing.base, `/h2?to=${target.url}`)).body, 'ERR_LEASH_DENIED');
      assert.equal(target.received(), warmed, 'the target received a refused request');
    } finally {
      await enforcing.stop();
    }
  } finally {
    partner.close();
    target.close();
  }
});
