import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Caller } from '../../attribution/package-of.ts';
import type { RuntimeContext } from './context.ts';
import { wrapHttpClient } from './wrap-http-client.ts';

/** Each decision: the endpoint, and the caller handed to it (undefined: the stack is walked). */
const checked: Array<{ resource: string; entry: unknown }> = [];
const BELOW_FETCH: Caller = { package: 'below-fetch', loader: false };

const context = {
  host: { mode: 'enforce' },
  packages: {
    current: () => 'walked',
    caller: () => ({ package: 'walked', loader: false }),
    callerBelow: () => BELOW_FETCH,
    ofFile: () => undefined,
  },
  check(capability: string, resource: string, _excuse?: unknown, entry?: unknown) {
    assert.equal(capability, 'net.connect');
    checked.push({ resource, entry });
  },
  observe() {},
  use: () => ({ scope: '@startup', package: 'app' }),
} as unknown as RuntimeContext;

let server: http.Server;
let base: string;
let endpoint: string;
let restore: () => void;

before(async () => {
  server = http.createServer((request, response) => {
    if (request.url === '/moved') {
      response.writeHead(302, { location: '/here' }).end();
      return;
    }
    response.end('here');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  endpoint = `127.0.0.1:${port}`;
  restore = wrapHttpClient(context);
});

after(() => {
  restore();
  server.closeAllConnections();
  server.close();
});

test('a fetch is decided once, for the caller read right below the fetch wrapper', async () => {
  checked.length = 0;
  assert.equal(await (await fetch(`${base}/here`)).text(), 'here');
  // Node's default dispatcher hands a copy of the request on to the one it wraps: still one
  // request, decided once.
  assert.deepEqual(checked, [{ resource: endpoint, entry: BELOW_FETCH }]);
});

test('a redirect, dispatched after the fetch call returned, is decided by a look at its own stack', async () => {
  checked.length = 0;
  assert.equal(await (await fetch(`${base}/moved`)).text(), 'here');
  assert.deepEqual(checked, [
    { resource: endpoint, entry: BELOW_FETCH },
    { resource: endpoint, entry: undefined },
  ]);
});
