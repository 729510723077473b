import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { ephemeralRange, WORKER_PORTS_FROM, workerPort } from './ports.ts';

/** Listens on 127.0.0.1:port; the server, to close. */
async function hold(port: number): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

const close = (server: net.Server) => new Promise((resolve) => server.close(resolve));

test('the ephemeral range is read as the kernel writes it, and nothing else is taken for it', () => {
  assert.deepEqual(ephemeralRange('32768\t60999\n'), { low: 32768, high: 60999 });
  assert.equal(ephemeralRange(''), undefined);
  assert.equal(ephemeralRange('60999 32768'), undefined);
  assert.equal(ephemeralRange('1024 70000'), undefined);
});

test("a worker's port lies outside this machine's ephemeral range, and a worker can bind it", async (t) => {
  const range = ephemeralRange();
  if (range === undefined || range.low <= WORKER_PORTS_FROM)
    return t.skip('no ephemeral range with room below it here');
  for (let i = 0; i < 5; i++) {
    const port = await workerPort();
    assert.ok(port >= WORKER_PORTS_FROM, `${port}`);
    assert.ok(port < range.low || port > range.high, `${port} in ${range.low}-${range.high}`);
    // Free for the worker: the supervisor's test bind is closed again.
    await close(await hold(port));
  }
});

test('a port another process holds is not given; without room the kernel picks one', async () => {
  // A port outside the ephemeral range, held by this test: the only one the window offers.
  const port = await workerPort();
  const server = await hold(port);
  try {
    const given = await workerPort({ range: { low: port + 1, high: 65_535 }, from: port });
    assert.notEqual(given, port);
    await close(await hold(given));
  } finally {
    await close(server);
  }
});

test('ports already given to other workers are avoided', async () => {
  const port = await workerPort();
  const given = await workerPort({
    range: { low: port + 1, high: 65_535 },
    from: port,
    avoid: new Set([port]),
  });
  assert.notEqual(given, port);
});

test('without a known range, a port the kernel picks', async () => {
  const given = await workerPort({ range: undefined });
  assert.ok(given > 0);
  await close(await hold(given));
});
