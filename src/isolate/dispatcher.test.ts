import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createDispatcher, type DispatchedRequest } from './dispatcher.ts';
import { TOKEN_HEADER } from './gate.ts';
import { createRequestRegistry } from './requests.ts';
import { routeTable } from './routes.ts';
import { createTokenIssuer } from './token.ts';
import { newSlot } from './worker-pool.ts';

/** A worker stand-in: answers with what it received (method, url, token header, body). */
let worker: http.Server;
let front: http.Server;
const tokens = createTokenIssuer();
const requests = createRequestRegistry();
const dispatched: DispatchedRequest[] = [];

before(async () => {
  worker = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      res.end(
        JSON.stringify({
          url: req.url,
          token: req.headers[TOKEN_HEADER],
          body: Buffer.concat(chunks).toString(),
        }),
      ),
    );
  });
  await new Promise<void>((resolve) => worker.listen(0, '127.0.0.1', resolve));
  const slot = newSlot('g1#1', 'g1', (worker.address() as AddressInfo).port);
  slot.started = true;
  front = http.createServer(
    createDispatcher(
      {
        table: routeTable(['POST /notes', 'GET /notes/:id']),
        groupOf: new Map([
          ['POST /notes', 'g1'],
          ['GET /notes/:id', 'g1'],
        ]),
        pick: (group) => (group === 'g1' ? slot : undefined),
        tokens,
        requests,
        principalOf: () => 'alice',
        inputHeaders: [],
        tokenMs: 60_000,
        maxBodyBytes: 64,
        log: () => {},
      },
      (request) => dispatched.push(request),
    ),
  );
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
});

after(async () => {
  front.closeAllConnections();
  worker.closeAllConnections();
  await new Promise((resolve) => front.close(resolve));
  await new Promise((resolve) => worker.close(resolve));
});

const base = () => `http://127.0.0.1:${(front.address() as AddressInfo).port}`;

test('a request goes to its group with a fresh token naming its route, principal and inputs', async () => {
  const answer = await fetch(`${base()}/notes/7?x=1`, {
    headers: { [TOKEN_HEADER]: 'v1.forged.x' },
  });
  const seen = (await answer.json()) as { url: string; token: string };
  assert.equal(seen.url, '/notes/7?x=1');
  const claims = tokens.verify(seen.token);
  assert.equal(claims.route, 'GET /notes/:id');
  assert.equal(claims.principal, 'alice');
  const record = requests.get(claims.rid)!;
  assert.deepEqual(record.inputs.get('7'), ['request.params.id']);
  assert.deepEqual(record.inputs.get('1'), ['request.query.x']);
});

test('a request of no group is answered 503 by the dispatcher, never forwarded', async () => {
  const answer = await fetch(`${base()}/elsewhere`);
  assert.equal(answer.status, 503);
  assert.match(await answer.text(), /unprivileged/);
});

test('a JSON body within the limit is read for its inputs; a larger one without a length streams through whole', async () => {
  const small = await fetch(`${base()}/notes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ title: 'groceries' }),
  });
  const smallSeen = (await small.json()) as { token: string; body: string };
  assert.equal(smallSeen.body, '{"title":"groceries"}');
  assert.deepEqual(requests.get(tokens.verify(smallSeen.token).rid)!.inputs.get('groceries'), [
    'request.body.title',
  ]);
  // Chunked (no content-length), larger than maxBodyBytes: passed on whole, no inputs read.
  const big = JSON.stringify({ title: 'x'.repeat(500) });
  const stream = new ReadableStream({
    start(controller) {
      for (let i = 0; i < big.length; i += 50)
        controller.enqueue(new TextEncoder().encode(big.slice(i, i + 50)));
      controller.close();
    },
  });
  const large = await fetch(`${base()}/notes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  assert.equal(large.status, 200);
  const largeSeen = (await large.json()) as { token: string; body: string };
  assert.equal(largeSeen.body, big);
  assert.equal(requests.get(tokens.verify(largeSeen.token).rid)!.inputs.size, 0);
  assert.ok(dispatched.some((d) => d.route === 'POST /notes' && d.worker === 'g1#1'));
});
