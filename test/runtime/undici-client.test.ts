// The undici package used directly: its global Agent keeps sockets alive across routes, so each
// request is decided in its caller's scope: a route learned calling one loopback service cannot
// reach another whose socket another route warmed; the other service never receives the request.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { get, startUnder } from './helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/undici-client-service.mjs', import.meta.url));

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

test('undici: each request is decided in its caller’s scope, also over a warm socket', async () => {
  const partner = await upstream('127.0.0.1', 'partner');
  const target = await upstream('127.0.0.3', 'target');
  const dir = mkdtempSync(join(tmpdir(), 'leash-undici-'));
  const env = { WARM_URL: target.url };
  try {
    const learning = await startUnder(['learn', '--', process.execPath, SERVICE], {
      cwd: dir,
      env,
    });
    try {
      for (let i = 0; i < 2; i++)
        assert.equal((await get(learning.base, `/u?to=${partner.url}`)).body, 'partner');
      assert.equal((await get(learning.base, '/u-warm')).body, 'target');
    } finally {
      await learning.stop();
    }
    const runtime = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).runtime;
    // Attributed to the package whose code makes the request, as every use is.
    assert.deepEqual(runtime['GET /u']?.undici?.['net.connect'], [new URL(partner.url).host]);

    const enforcing = await startUnder(
      ['enforce', '--layer=process', '--', process.execPath, SERVICE],
      { cwd: dir, env },
    );
    try {
      assert.equal((await get(enforcing.base, '/u-warm')).body, 'target');
      const warmed = target.received();
      assert.equal((await get(enforcing.base, `/u?to=${partner.url}`)).body, 'partner');
      assert.equal((await get(enforcing.base, `/u?to=${target.url}`)).body, 'ERR_LEASH_DENIED');
      assert.equal(target.received(), warmed, 'the target received a refused request');
    } finally {
      await enforcing.stop();
    }
  } finally {
    partner.close();
    target.close();
  }
});
