// A metadata probe of a path that does not exist needs no privilege. Static-file middleware stats
// its directory for every request before the route answers (`express.static` at `/` stats
// `public/posts/4` for `GET /posts/4`); learned with ids 1–3, enforce refused id 4's probe and the
// request failed with 500. Under enforce, a probe of an absent path is answered as Node answers it
// (ENOENT, false, undefined) through every API, with no violation; a probe of a file that exists
// but is not granted is still refused.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { get, startUnder } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/probe-service.mjs', import.meta.url));
const APIS = ['stat', 'lstat', 'access', 'statSync', 'statSyncQuiet', 'existsSync', 'exists'];

let dir: string;
const env = () => ({ DATA_DIR: join(dir, 'data') });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leash-probe-'));
  mkdirSync(join(dir, 'data', 'public'), { recursive: true });
  writeFileSync(join(dir, 'data', 'public', 'seen.txt'), 'seen');
  copyFileSync(FIXTURE, join(dir, 'service.mjs'));
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  const service = await startUnder(['learn', '--', process.execPath, join(dir, 'service.mjs')], {
    cwd: dir,
    env: env(),
  });
  try {
    for (const api of APIS) {
      assert.equal((await get(service.base, `/probe/seen.txt?with=${api}`)).body, 'present');
      assert.equal((await get(service.base, `/probe/gone-1?with=${api}`)).body, 'absent');
    }
  } finally {
    await service.stop();
  }
});

test('enforce answers a probe of an absent path as Node does, through every API, with no violation', async () => {
  const service = await startUnder(['enforce', '--', process.execPath, join(dir, 'service.mjs')], {
    cwd: dir,
    env: env(),
  });
  try {
    for (const api of APIS) {
      for (const name of ['gone-2', 'gone-3/deeper', 'seen.txt/inside']) {
        const answer = await get(service.base, `/probe/${name}?with=${api}`);
        assert.deepEqual([answer.status, answer.body], [200, 'absent'], `${api} ${name}`);
      }
      assert.equal((await get(service.base, `/probe/seen.txt?with=${api}`)).body, 'present');
    }
  } finally {
    await service.stop();
  }
  assert.doesNotMatch(service.stderr(), /"event":"violation"/, service.stderr());
});

test('enforce still refuses a probe of a file that exists but is not granted', async () => {
  writeFileSync(join(dir, 'data', 'public', 'new.txt'), 'written after learning');
  const service = await startUnder(['enforce', '--', process.execPath, join(dir, 'service.mjs')], {
    cwd: dir,
    env: env(),
  });
  try {
    for (const api of ['stat', 'lstat', 'access', 'statSync', 'statSyncQuiet']) {
      const answer = await get(service.base, `/probe/new.txt?with=${api}`);
      assert.deepEqual([answer.status, answer.body], [500, 'ERR_LEASH_DENIED'], api);
    }
    for (const api of ['existsSync', 'exists'])
      assert.equal((await get(service.base, `/probe/new.txt?with=${api}`)).body, 'absent', api);
  } finally {
    await service.stop();
  }
  assert.match(service.stderr(), /"event":"violation".*public\/new\.txt/);
});
