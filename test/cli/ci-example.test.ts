// The README's CI gate on the example service's own test suite (examples/service/package.json:
// `"test": "node --test …"`, the tests in examples/service/test/ start the app in-process on a
// free loopback port with its data in a temporary DATA_DIR): `leash learn -- npm test`, then
// `leash ci -- npm test` should pass; a new file read in a route the tests exercise makes it fail,
// naming that read. The run is on a copy of the example, so the committed tree is never touched.
import assert from 'node:assert/strict';
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { npmProjectEnv, run } from '../support/processes.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'leash.js');
const EXAMPLE = join(ROOT, 'examples', 'service');

let dir: string;
let policy: string;
let clean: Awaited<ReturnType<typeof leash>> | undefined;

const env = npmProjectEnv();

function leash(command: 'learn' | 'ci') {
  return run(process.execPath, [BIN, command, '--', 'npm', 'test'], { cwd: dir, env });
}

/** The `+ …` lines of a `leash ci` listing. */
const listed = (stdout: string): string[] =>
  stdout.split('\n').filter((line) => line.startsWith('  + '));

before(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-ci-example-')));
  // The example as a project of its own: its files (not a data directory a local run left), and
  // the repository's node_modules (express, express-session) where Node looks for them.
  cpSync(EXAMPLE, dir, {
    recursive: true,
    filter: (source) => {
      const rel = source.slice(EXAMPLE.length);
      return rel !== '/data' && rel !== '/node_modules' && rel !== '/leash.policy.json';
    },
  });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  writeFileSync(join(dir, 'motd.txt'), 'Welcome back\n');

  const learned = await leash('learn');
  assert.equal(learned.status, 0, learned.stdout + learned.stderr);
  assert.match(learned.stdout, /(ℹ|#) pass [1-9]\d*\b/, learned.stdout);
  assert.match(learned.stdout, /(ℹ|#) fail 0\b/, learned.stdout);
  assert.match(
    learned.stderr,
    /^leash learn: leash\.policy\.json holds \d+ rules?, \d+ new in this run \(a new policy\)$/m,
  );
  // The routes' SQL (per-route templates) and their file reads were learned.
  assert.match(learned.stderr, /^ {2}sql: \d+ rules in \d+ scopes, \d+ new$/m);
  policy = readFileSync(join(dir, 'leash.policy.json'), 'utf8');
  assert.ok(policy.includes('{app}/views/home.html'), policy);
  assert.doesNotMatch(policy, /motd\.txt/);
});

after(() => rmSync(dir, { recursive: true, force: true }));

// The tests are left as their authors write them (servers on free ports, data in mkdtemp
// directories): a connection of the process to its own listen(0) port is its own business, a
// directory the process made with mkdtemp is learned with its random part as a wildcard, and
// under ci a repeated SQL constant adds no rule the committed policy lacks.
test('learn, then ci, on the example: exit 0', async () => {
  clean = await leash('ci');
  assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /the tests needed nothing that leash\.policy\.json does not grant/);
});

test('a new file read in GET /notes: ci exits 1 and names the read', async (t) => {
  // Compare with a run of the same tests before the change.
  clean ??= await leash('ci');
  assert.ok(clean.status === 0 || clean.status === 1, clean.stdout + clean.stderr);

  const notes = join(dir, 'routes', 'notes.ts');
  const source = readFileSync(notes, 'utf8');
  const handler =
    "  app.get('/notes', requireUser, async (req, res) => {\n    res.json(await store.listNotes(currentUser(req)));\n";
  assert.ok(source.includes(handler), 'GET /notes as the test expects it');
  writeFileSync(
    notes,
    `import { readFile } from 'node:fs/promises';\n${source.replace(
      handler,
      "  app.get('/notes', requireUser, async (req, res) => {\n    res.set('x-motd', (await readFile(new URL('../motd.txt', import.meta.url), 'utf8')).trim());\n    res.json(await store.listNotes(currentUser(req)));\n",
    )}`,
  );

  const drift = await leash('ci');
  assert.equal(drift.status, 1, drift.stdout + drift.stderr);
  assert.match(drift.stdout, /(ℹ|#) pass [1-9]\d*\b/, drift.stdout);
  assert.match(drift.stdout, /(ℹ|#) fail 0\b/, drift.stdout);
  assert.match(
    drift.stdout,
    /the tests needed \d+ privileges? that leash\.policy\.json does not grant/,
  );
  const read = `+ runtime: GET /notes › app › fs.read › ${join(dir, 'motd.txt')}`;
  assert.ok(listed(drift.stdout).includes(`  ${read}`), drift.stdout);
  t.diagnostic(`${drift.stdout.split('\n').find((l) => l.startsWith('leash ci:'))} … ${read}`);
  // Only the change brought it: the run before did not list it.
  assert.ok(!clean.stdout.includes('motd.txt'), clean.stdout);
  assert.equal(readFileSync(join(dir, 'leash.policy.json'), 'utf8'), policy, 'ci changed nothing');
});
