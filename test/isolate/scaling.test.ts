// Scaling under --isolate: a group whose workers each have `scaleAt` requests in flight gets one
// more worker, up to `maxWorkers`; the requests are answered all along, and later ones are spread
// over the workers. Without `maxWorkers` nothing scales.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../examples/service/start.ts';
import { startUnder } from '../runtime/helpers.ts';

const SERVICE = fileURLToPath(new URL('../fixtures/isolate/slow-service.mjs', import.meta.url));

let work: string;
let port: number;

before(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'leash-scaling-')));
  port = await freePort();
  const learning = await startUnder(
    ['learn', '--policy', join(work, 'leash.policy.json'), '--', process.execPath, SERVICE],
    { cwd: work, env: { PORT: String(port), DELAY_MS: '0' } },
  );
  try {
    assert.equal((await fetch(new URL('/work', learning.base))).status, 200);
  } finally {
    await learning.stop();
  }
});

after(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** Starts the service under `leash enforce --isolate` with these isolate settings. */
function isolated(settings: Record<string, number>) {
  const config = join(work, 'leash.config.json');
  writeFileSync(config, JSON.stringify({ isolate: settings }));
  return startUnder(
    [
      'enforce',
      '--isolate',
      '--policy',
      join(work, 'leash.policy.json'),
      '--',
      process.execPath,
      SERVICE,
    ],
    { cwd: work, env: { PORT: String(port), LEASH_CONFIG: config } },
  );
}

async function burst(base: string, n: number): Promise<string[]> {
  const answers = await Promise.all(
    Array.from({ length: n }, () => fetch(new URL('/work', base)).then((r) => r.text())),
  );
  return answers;
}

test('a busy group gets another worker, within maxWorkers, and the requests are spread', async () => {
  const service = await isolated({ maxWorkers: 2, scaleAt: 2 });
  try {
    assert.match(service.stderr(), /1 groups, 1 workers/);
    const first = await burst(service.base, 6);
    assert.equal(new Set(first).size, 1, 'one worker answered the first burst');
    const scaled = /group unprivileged scaled to 2 workers/;
    for (let attempt = 0; attempt < 600 && !scaled.test(service.stderr()); attempt++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    assert.match(service.stderr(), scaled);
    const second = await burst(service.base, 6);
    assert.equal(new Set(second).size, 2, `two workers answered: ${second.join(' ')}`);
    // The cap holds: no third worker however busy.
    await burst(service.base, 12);
    assert.doesNotMatch(service.stderr(), /scaled to 3 workers/);
  } finally {
    await service.stop();
  }
});

test('without maxWorkers a group keeps its one worker', async () => {
  const service = await isolated({ scaleAt: 1 });
  try {
    const answers = await burst(service.base, 6);
    assert.equal(new Set(answers).size, 1);
    assert.doesNotMatch(service.stderr(), /scaled/);
  } finally {
    await service.stop();
  }
});

test('workers whose supervisor is killed with SIGKILL end by themselves', async () => {
  const service = await isolated({});
  const status = JSON.parse(readFileSync(join(work, 'leash.status.json'), 'utf8')) as {
    groups: { workers: { pid: number }[] }[];
  };
  const pids = status.groups.flatMap((g) => g.workers.map((w) => w.pid));
  assert.ok(pids.length > 0);
  service.child.kill('SIGKILL');
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let attempt = 0; attempt < 300 && pids.some(alive); attempt++)
    await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(pids.filter(alive), []);
  await service.stop();
});
