// steno 0.4 (lowdb 1's writer) under leash: a route's write is decided when the route asks steno
// for it, so the route that asked is what the policy names, although steno makes a write asked for
// while another is in flight later, in the continuation of the one before (another request's async
// context). Learned route by route, one write at a time; enforced with writes of two routes made to
// overlap (libuv's only thread held on a FIFO), in both orders; a route never learned asking is
// refused through steno's own callback, or a throw for writeFileSync, and the file stays as it was.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { aliasedLayout, resolveIn } from '../support/aliases.ts';
import { type Running, startUnder } from './helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/steno-service.mjs', import.meta.url));
const MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

async function call(service: Running, method: string, path: string): Promise<string> {
  const response = await fetch(new URL(path, service.base), { method });
  assert.equal(response.status, 200, `${method} ${path}`);
  return response.text();
}

/** The answer of GET /result for `tag` once steno called back. */
async function resultOf(service: Running, tag: string): Promise<string> {
  for (;;) {
    const result = await call(service, 'GET', `/result?tag=${tag}`);
    if (result !== 'pending') return result;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// The supported range's highest version (the devDependency) and its lowest published one.
for (const [version, alias] of [
  ['0.4.4', undefined],
  ['0.4.3', 'steno-lowest'],
] as const) {
  test(`steno ${version}: a steno write is the asking route’s to make, whichever request’s continuation makes it`, async () => {
    const modules = alias === undefined ? MODULES : aliasedLayout([['steno', alias]]);
    assert.equal(
      JSON.parse(readFileSync(join(modules, 'steno', 'package.json'), 'utf8')).version,
      version,
    );
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-steno-')));
    const data = join(dir, 'db.json');
    const fifo = join(dir, 'hold.fifo');
    writeFileSync(data, 'seed');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
    const env = {
      DATA_FILE: data,
      HOLD_FIFO: fifo,
      UV_THREADPOOL_SIZE: '1',
      STENO_ENTRY: resolveIn(modules, 'steno'),
    };
    const release = () => writeFile(fifo, 'go');
    const command = ['--', process.execPath, SERVICE];

    const learning = await startUnder(['learn', ...command], { cwd: dir, env });
    try {
      assert.equal(await call(learning, 'POST', '/a?tag=l1&wait=1'), 'ok');
      assert.equal(await call(learning, 'POST', '/b?tag=l2&wait=1'), 'ok');
      assert.equal(await call(learning, 'POST', '/sync-a?tag=l3'), 'ok');
      assert.equal(await call(learning, 'GET', '/hold'), 'holding');
      await release();
    } finally {
      await learning.stop();
    }
    const runtime = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).runtime;
    for (const route of ['POST /a', 'POST /b', 'POST /sync-a'])
      assert.deepEqual(runtime[route]?.app?.['fs.write'], ['{app}/db.json'], route);
    // The queue's own writes (its temporary copy, renamed over the data file) are the process's.
    assert.deepEqual(runtime['@pool']?.steno?.['fs.write'], ['{app}/.~db.json', '{app}/db.json']);
    assert.equal(runtime['POST /c'], undefined);

    const enforcing = await startUnder(['enforce', '--layer=process', ...command], {
      cwd: dir,
      env,
    });
    try {
      for (const [first, second] of [
        ['a', 'b'],
        ['b', 'a'],
      ] as const) {
        const [one, two] = [`${first}-first`, `${second}-queued`];
        assert.equal(await call(enforcing, 'GET', '/hold'), 'holding');
        assert.equal(await call(enforcing, 'POST', `/${first}?tag=${one}`), 'asked');
        // Asked while the first is in flight: steno writes it in the first one's continuation.
        assert.equal(await call(enforcing, 'POST', `/${second}?tag=${two}`), 'asked');
        assert.equal(await call(enforcing, 'GET', `/result?tag=${two}`), 'pending');
        await release();
        assert.deepEqual(
          [await resultOf(enforcing, one), await resultOf(enforcing, two)],
          ['ok', 'ok'],
        );
        assert.equal(readFileSync(data, 'utf8'), `${second}:${two}`);
      }
      const before = readFileSync(data, 'utf8');
      assert.equal(await call(enforcing, 'POST', '/c?tag=refused&wait=1'), 'ERR_LEASH_DENIED');
      assert.equal(await call(enforcing, 'POST', '/sync-c?tag=refused-sync'), 'ERR_LEASH_DENIED');
      assert.equal(readFileSync(data, 'utf8'), before);
      // The refused asks queued nothing: the next allowed write is made, and is the last.
      assert.equal(await call(enforcing, 'POST', '/a?tag=after&wait=1'), 'ok');
      assert.equal(readFileSync(data, 'utf8'), 'a:after');
    } finally {
      await enforcing.stop();
    }
    for (const route of ['POST /c', 'POST /sync-c'])
      assert.match(enforcing.stderr(), new RegExp(`${route}.*fs\\.write`), enforcing.stderr());

    // A policy learned before the asks were checked holds only the queue's @pool rules: every
    // route's ask is allowed, as it was then, and the queue still writes nothing but its files.
    const policyFile = join(dir, 'leash.policy.json');
    const learned = JSON.parse(readFileSync(policyFile, 'utf8'));
    for (const route of ['POST /a', 'POST /b', 'POST /sync-a']) {
      delete learned.runtime[route].app['fs.write'];
      if (Object.keys(learned.runtime[route].app).length === 0) delete learned.runtime[route].app;
      if (Object.keys(learned.runtime[route]).length === 0) delete learned.runtime[route];
    }
    writeFileSync(policyFile, JSON.stringify(learned, null, 2));
    const legacy = await startUnder(['enforce', '--layer=process', ...command], { cwd: dir, env });
    try {
      assert.equal(await call(legacy, 'POST', '/c?tag=legacy&wait=1'), 'ok');
      assert.equal(readFileSync(data, 'utf8'), 'c:legacy');
    } finally {
      await legacy.stop();
    }
  });
}
