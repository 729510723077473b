// A policy that holds on another machine: learned in one directory on one port on one day, the
// same policy file, copied with the service to another directory, enforces it on another port the
// next day (the clock faked through FAKE_NOW) with another data directory, with 0 refusals.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { get, startUnder } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/portable-service.mjs', import.meta.url));
const DAY = 24 * 3600 * 1000;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function install(app: string, data: string): void {
  for (const dir of [app, join(app, 'views'), join(app, 'logs'), data])
    mkdirSync(dir, { recursive: true });
  copyFileSync(FIXTURE, join(app, 'service.mjs'));
  writeFileSync(join(app, 'views', 'page.html'), '<p>page</p>');
  writeFileSync(
    join(app, 'leash.config.json'),
    JSON.stringify({ envRoots: ['DATA_DIR'], flushIntervalMs: 100 }),
  );
  for (const id of ['1', '2', '3', '4', '5']) writeFileSync(join(data, `${id}.txt`), `data ${id}`);
}

test('the policy enforces a copy in another directory, on another port, the next day, with 0 refusals', async () => {
  const first = mkdtempSync(join(tmpdir(), 'leash-portable-a-'));
  const second = mkdtempSync(join(tmpdir(), 'leash-portable-b-'));
  const [appA, dataA, appB, dataB] = [
    join(first, 'app'),
    join(first, 'data'),
    join(second, 'srv', 'app'),
    join(second, 'data'),
  ];
  install(appA, dataA);
  const today = Date.parse('2026-12-02T10:00:00Z');

  const learning = await startUnder(['learn', '--', process.execPath, join(appA, 'service.mjs')], {
    cwd: appA,
    env: { PORT: String(await freePort()), DATA_DIR: dataA, FAKE_NOW: String(today) },
  });
  try {
    for (const path of ['/', '/page', '/data/1', '/data/2', '/data/3'])
      assert.equal((await get(learning.base, path)).status, 200, path);
  } finally {
    await learning.stop();
  }
  const text = readFileSync(join(appA, 'leash.policy.json'), 'utf8');
  assert.ok(!text.includes(first), `no path of this machine in the policy:\n${text}`);
  const runtime = JSON.parse(text).runtime;
  assert.deepEqual(runtime['@startup'].app['net.listen'], ['127.0.0.1:{env:PORT}']);
  assert.deepEqual(runtime['GET /page'].app, {
    'fs.read': ['{app}/views/page.html'],
    'fs.write': ['{app}/logs/access.log.*'],
  });
  assert.deepEqual(runtime['GET /data/:id'].app['fs.read'], ['{env:DATA_DIR}/*.txt']);

  // Another machine: another directory, another port, another data directory, the next day.
  install(appB, dataB);
  copyFileSync(join(appA, 'leash.policy.json'), join(appB, 'leash.policy.json'));
  const enforcing = await startUnder(
    ['enforce', '--', process.execPath, join(appB, 'service.mjs')],
    {
      cwd: appB,
      env: { PORT: String(await freePort()), DATA_DIR: dataB, FAKE_NOW: String(today + DAY) },
    },
  );
  try {
    for (const path of ['/page', '/data/4', '/data/5', '/'])
      assert.equal((await get(enforcing.base, path)).status, 200, path);
  } finally {
    await enforcing.stop();
  }
  const refusals = enforcing
    .stderr()
    .split('\n')
    .filter((line) => line.includes('"event":"violation"'));
  assert.deepEqual(refusals, []);
  assert.ok(
    readFileSync(join(appB, 'logs', 'access.log.2026-12-03'), 'utf8').includes('GET /page'),
  );
});
