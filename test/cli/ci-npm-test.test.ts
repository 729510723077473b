// The README's CI gate on a small project whose test script is Node's own runner
// (`"test": "node --test"`): `leash learn -- npm test`, then `leash ci -- npm test` passes; a test
// that reads a new file makes it fail, naming that read. npm's own work (its debug log, its config
// reads) is not learned, and the test files' processes are not killed by the flags leash passes.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readPolicyJson } from '../support/policy-json.ts';
import { npmProjectEnv, run } from '../support/processes.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'leash.js');

let dir: string;

const env = npmProjectEnv();

const leash = (...args: string[]) =>
  run(process.execPath, [BIN, ...args, '--', 'npm', 'test'], { cwd: dir, env });

before(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-ci-npm-')));
  mkdirSync(join(dir, 'test'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'ci-npm-demo',
      version: '1.0.0',
      private: true,
      type: 'module',
      scripts: { test: 'node --test' },
    }),
  );
  writeFileSync(join(dir, 'greeting.txt'), 'hello\n');
  writeFileSync(join(dir, 'extra.txt'), 'not needed before\n');
  writeFileSync(
    join(dir, 'lib.mjs'),
    "import { readFileSync } from 'node:fs';\nexport const greeting = () => readFileSync(new URL('./greeting.txt', import.meta.url), 'utf8').trim();\n",
  );
  writeFileSync(
    join(dir, 'test', 'lib.test.mjs'),
    "import assert from 'node:assert/strict';\nimport { test } from 'node:test';\nimport { greeting } from '../lib.mjs';\ntest('greets', () => assert.equal(greeting(), 'hello'));\n",
  );
});

test('learn, then ci, on `npm test` with node --test: exit 0; a new file read: exit 1 naming it', async (t) => {
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const learned = await leash('learn');
  assert.equal(learned.status, 0, learned.stdout + learned.stderr);
  assert.doesNotMatch(learned.stdout + learned.stderr, /requires an argument/);
  assert.match(learned.stdout, /(ℹ|#) pass 1\b/);
  // leash's own summary, on stderr (stdout is the command's).
  assert.match(
    learned.stderr,
    /^leash learn: leash\.policy\.json holds \d+ rules?, \d+ new in this run \(a new policy\)$/m,
  );
  // @startup, and @loader for module loading.
  assert.match(learned.stderr, /^ {2}runtime: \d+ rules? in 2 scopes, \d+ new$/m);

  const policy = readFileSync(join(dir, 'leash.policy.json'), 'utf8');
  assert.ok(
    JSON.stringify(readPolicyJson(join(dir, 'leash.policy.json'), { app: dir })).includes(
      join(dir, 'greeting.txt'),
    ),
    policy,
  );
  // npm's debug log (timestamped, under ~/.npm/_logs) and its config files are npm's, not the
  // project's.
  assert.doesNotMatch(policy, /_logs|\.npmrc|npm-cli|\/npm\//, policy);

  const clean = await leash('ci');
  assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /the tests needed nothing that leash\.policy\.json does not grant/);

  writeFileSync(
    join(dir, 'test', 'extra.test.mjs'),
    "import { readFileSync } from 'node:fs';\nimport { test } from 'node:test';\ntest('reads extra', () => { readFileSync(new URL('../extra.txt', import.meta.url)); });\n",
  );
  const drift = await leash('ci');
  assert.equal(drift.status, 1, drift.stdout + drift.stderr);
  assert.match(
    drift.stdout,
    /the tests needed 1 privilege that leash\.policy\.json does not grant/,
  );
  assert.ok(
    drift.stdout.includes(`+ runtime: @startup › app › fs.read › ${join(dir, 'extra.txt')}`),
    drift.stdout,
  );
  assert.equal(readFileSync(join(dir, 'leash.policy.json'), 'utf8'), policy, 'ci changed nothing');
});
