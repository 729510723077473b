// A long `leash learn` run says how it goes: a progress line when the policy has grown (every
// LEASH_PROGRESS_MS here; every 30 s on a terminal), and the summary when the command ends.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { killGroup, STARTUP_LIMIT_MS, spawnGroup, withinLimit } from '../support/processes.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'leash.js');

test('learn prints a progress line while the service runs, then the summary', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-progress-')));
  writeFileSync(join(dir, 'data.txt'), 'x');
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 50 }));
  // Reads a file at start and then stays up until leash forwards SIGTERM.
  writeFileSync(
    join(dir, 'service.mjs'),
    "import { readFileSync } from 'node:fs';\nreadFileSync(process.env.READ);\nsetInterval(() => {}, 1000);\nprocess.on('SIGTERM', () => process.exit(0));\n",
  );
  const child = spawnGroup(
    process.execPath,
    [BIN, 'learn', '--', process.execPath, 'service.mjs'],
    {
      cwd: dir,
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        LEASH_MODE: '',
        LEASH_POLICY: '',
        LEASH_CONFIG: '',
        LEASH_PROGRESS_MS: '100',
        READ: join(dir, 'data.txt'),
      },
    },
  );
  t.after(() => killGroup(child));
  let stderr = '';
  const progress = new Promise<void>((resolve) => {
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
      if (/^leash learn: \d+ rules? so far, \d+ new$/m.test(stderr)) resolve();
    });
  });
  await withinLimit(
    progress,
    STARTUP_LIMIT_MS,
    () => killGroup(child),
    () => `no progress line: ${stderr}`,
  );
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const [code] = await withinLimit(
    exited,
    STARTUP_LIMIT_MS,
    () => killGroup(child),
    () => stderr,
  );
  assert.equal(code, 0, stderr);
  assert.match(stderr, /^leash learn: \d+ rules? so far, \d+ new$/m);
  assert.match(
    stderr,
    /^leash learn: leash\.policy\.json holds \d+ rules?, \d+ new in this run \(a new policy\)$/m,
  );
});
