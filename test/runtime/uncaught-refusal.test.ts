// A refusal fails the request, never the service: under enforce, a refused read that the service
// never catches (a promise chain with no catch, an unguarded async handler of a plain node:http
// server, a timer) answers its request 500 and the process keeps serving. Other uncaught errors
// keep Node's behaviour, and so does every refusal with `onUncaughtRefusal: 'exit'`.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { get, startUnder } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/careless-service.mjs', import.meta.url));
const SECRET_TEXT = 'the secret text';

let dir: string;
let service: string;
let secret: string;
const env = (config = 'leash.config.json') => ({
  SECRET_FILE: secret,
  LEASH_CONFIG: join(dir, config),
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leash-careless-'));
  const outside = mkdtempSync(join(tmpdir(), 'leash-careless-secret-'));
  secret = join(outside, 'secret.txt');
  writeFileSync(secret, SECRET_TEXT);
  service = join(dir, 'service.mjs');
  copyFileSync(FIXTURE, service);
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  writeFileSync(
    join(dir, 'exit.config.json'),
    JSON.stringify({ flushIntervalMs: 100, onUncaughtRefusal: 'exit' }),
  );
  const learning = await startUnder(['learn', '--', process.execPath, service], {
    cwd: dir,
    env: env(),
  });
  try {
    assert.equal((await get(learning.base, '/')).body, 'ok');
  } finally {
    await learning.stop();
  }
});

async function enforce(config?: string) {
  return startUnder(['enforce', '--layer=process', '--', process.execPath, service], {
    cwd: dir,
    env: env(config),
  });
}

test('a refusal nobody catches answers its request 500 without policy content, and the service keeps serving', async () => {
  const running = await enforce();
  try {
    for (const path of ['/chain', '/async', '/timer', '/chain']) {
      const refused = await get(running.base, path);
      assert.equal(refused.status, 500, path);
      assert.equal(refused.body, 'Internal Server Error\n', path);
      assert.equal((await get(running.base, '/')).body, 'ok', `still serving after ${path}`);
    }
    // The answer had begun: the connection closes instead (the client sees a failed response).
    await assert.rejects(get(running.base, '/streaming'));
    assert.equal((await get(running.base, '/')).body, 'ok', 'still serving after /streaming');
  } finally {
    await running.stop();
  }
  const events = running
    .stderr()
    .split('\n')
    .filter((line) => line.includes('"event":"uncaught-refusal"'))
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    events.map((e) => [e.scope, e.origin, e.request]),
    [
      ['GET /chain', 'unhandledRejection', 'answered'],
      ['GET /async', 'unhandledRejection', 'answered'],
      ['GET /timer', 'uncaughtException', 'answered'],
      ['GET /chain', 'unhandledRejection', 'answered'],
      ['GET /streaming', 'unhandledRejection', 'closed'],
    ],
  );
  assert.deepEqual(events[0].facts, ['GET /chain', 'app', 'fs.read', secret]);
  assert.doesNotMatch(running.stderr(), new RegExp(SECRET_TEXT), 'the file was never read');
});

test("an uncaught error of the service's own still ends the process as Node does", async () => {
  const running = await enforce();
  await get(running.base, '/crash').catch(() => undefined);
  const [code] =
    running.child.exitCode === null ? await once(running.child, 'exit') : [running.child.exitCode];
  assert.equal(code, 1);
  assert.match(running.stderr(), /a bug of the service itself/);
});

test("onUncaughtRefusal: 'exit' keeps Node's behaviour for refusals too", async () => {
  const running = await enforce('exit.config.json');
  await get(running.base, '/chain').catch(() => undefined);
  const [code] =
    running.child.exitCode === null ? await once(running.child, 'exit') : [running.child.exitCode];
  assert.equal(code, 1);
  assert.match(running.stderr(), /ERR_LEASH_DENIED/);
  assert.doesNotMatch(running.stderr(), /"event":"uncaught-refusal"/);
});
