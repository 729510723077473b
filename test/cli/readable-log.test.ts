// On a terminal (here: LEASH_LOG_FORMAT=pretty, as a TTY would choose), a violation is one line a
// person reads; anywhere else the same violation stays one JSON object for log collectors.
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../support/processes.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'leash.js');

test('report prints a violation as one readable line with LEASH_LOG_FORMAT=pretty, as JSON otherwise', async (t) => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-readable-')));
  writeFileSync(join(dir, 'learned.txt'), 'a');
  writeFileSync(join(dir, 'new.txt'), 'b');
  writeFileSync(
    join(dir, 'service.mjs'),
    "import { readFileSync } from 'node:fs';\nreadFileSync(process.env.READ);\n",
  );
  const leash = (mode: string, read: string, format: string) =>
    run(process.execPath, [BIN, mode, '--', process.execPath, join(dir, 'service.mjs')], {
      cwd: dir,
      env: {
        ...process.env,
        NODE_OPTIONS: '',
        LEASH_MODE: '',
        LEASH_POLICY: '',
        LEASH_CONFIG: '',
        LEASH_LOG_FORMAT: format,
        READ: join(dir, read),
      },
    });
  const learned = await leash('learn', 'learned.txt', 'json');
  assert.equal(learned.status, 0, learned.stderr);

  const pretty = await leash('report', 'new.txt', 'pretty');
  assert.equal(pretty.status, 0, pretty.stderr);
  const line = `leash: would refuse runtime: @startup › app › fs.read › ${join(dir, 'new.txt')}`;
  assert.ok(
    pretty.stderr.split('\n').some((l) => l.startsWith(line)),
    pretty.stderr,
  );
  assert.doesNotMatch(pretty.stderr, /"event":"violation"/);

  const json = await leash('report', 'new.txt', 'json');
  const violation = json.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .find((l) => l.event === 'violation');
  assert.deepEqual(violation?.facts, ['@startup', 'app', 'fs.read', join(dir, 'new.txt')]);
  t.diagnostic(line);
});
