// `leash policy review`, on violations recorded by a real `leash report` run: listing, filtering,
// approving into the policy, and a malformed violations file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { violationId } from '../../src/cli/violation-id.ts';
import { SINGLE_PROCESS_LIMIT } from '../support/processes.ts';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../runtime/fixtures/review-service.mjs', import.meta.url));

function leash(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    ...SINGLE_PROCESS_LIMIT,
    env: {
      ...process.env,
      NO_COLOR: '1',
      LEASH_MODE: '',
      LEASH_POLICY: '',
      LEASH_CONFIG: '',
      ...env,
    },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

// Recorded once: a policy learned from one workload and the violations of another, run in report
// mode. Each test works on its own copy of the two files.
let recorded: string;
let data: string;
const POLICY = 'leash.policy.json';
const VIOLATIONS = 'leash.violations.json';

interface Record {
  module: string;
  facts: string[];
  mode: string;
  count: number;
  lastSeen: string;
}

before(() => {
  recorded = mkdtempSync(join(tmpdir(), 'leash-review-'));
  data = join(recorded, 'data');
  mkdirSync(data);
  for (const name of ['a', 'b', 'c']) writeFileSync(join(data, `${name}.txt`), name);
  copyFileSync(FIXTURE, join(recorded, 'service.mjs'));
  const service = [process.execPath, 'service.mjs'];
  const learned = leash(recorded, ['learn', '--', ...service], {
    STARTUP_READ: join(data, 'a.txt'),
    BACKGROUND_READ: join(data, 'a.txt'),
  });
  assert.equal(learned.code, 0, learned.stderr);
  const reported = leash(recorded, ['report', '--', ...service], {
    STARTUP_READ: join(data, 'b.txt'),
    BACKGROUND_READ: join(data, 'c.txt'),
  });
  assert.equal(reported.code, 0, reported.stderr);
});

/** A fresh directory holding a copy of the recorded policy and violations. */
function workdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-review-'));
  for (const name of [POLICY, VIOLATIONS]) copyFileSync(join(recorded, name), join(dir, name));
  return dir;
}

function violationsIn(dir: string): Record[] {
  return JSON.parse(readFileSync(join(dir, VIOLATIONS), 'utf8')).violations;
}

/** The line `review` prints for a record: its id, then what it is. */
function line(r: Record): string {
  return `${violationId(r)} ${r.module}: ${r.facts.join(' › ')}  ${r.mode}, ${r.count}×, last ${r.lastSeen}`;
}

const SUMMARY = '; approve them with --approve, drop them with --reject (one at a time: --id <id>)';

const startupRead = () => ['@startup', 'app', 'fs.read', join(data, 'b.txt')];
const backgroundRead = () => ['@background', 'app', 'fs.read', join(data, 'c.txt')];

const cspRecord: Record = {
  module: 'csp',
  facts: ['/notes/:id', 'img-src', 'https://images.example.org'],
  mode: 'report',
  count: 4,
  lastSeen: '2026-08-01T10:05:00.000Z',
};

/** Adds a csp violation to the recorded file, in the documented format. */
function withCspViolation(dir: string): void {
  const file = JSON.parse(readFileSync(join(dir, VIOLATIONS), 'utf8'));
  file.violations.push({ ...cspRecord, firstSeen: '2026-08-01T10:00:00.000Z' });
  writeFileSync(join(dir, VIOLATIONS), `${JSON.stringify(file, null, 2)}\n`);
}

test('the report run recorded exactly the two reads the policy does not grant, with their counts', () => {
  const records = violationsIn(recorded);
  assert.deepEqual(
    records.map((r) => [r.module, r.facts, r.mode, r.count]),
    [
      ['runtime', backgroundRead(), 'report', 1],
      ['runtime', startupRead(), 'report', 2],
    ],
  );
});

test('review lists each violation with module, facts, mode and count, exits 0 and changes no file', () => {
  const dir = workdir();
  const policyBefore = readFileSync(join(dir, POLICY), 'utf8');
  const violationsBefore = readFileSync(join(dir, VIOLATIONS), 'utf8');
  const { code, stdout, stderr } = leash(dir, ['policy', 'review']);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, '');
  assert.deepEqual(stdout.trimEnd().split('\n'), [
    ...violationsIn(dir).map(line),
    `2 violations${SUMMARY}`,
  ]);
  assert.match(
    stdout,
    /^[0-9a-f]{10} runtime: @startup › app › fs\.read › \S+\/b\.txt {2}report, 2×, last /m,
  );
  assert.equal(readFileSync(join(dir, POLICY), 'utf8'), policyBefore);
  assert.equal(readFileSync(join(dir, VIOLATIONS), 'utf8'), violationsBefore);
});

test('review --scope lists only the violations whose scope is that one', () => {
  const dir = workdir();
  const background = leash(dir, ['policy', 'review', '--scope', '@background']);
  assert.equal(background.code, 0, background.stderr);
  const [record] = violationsIn(dir).filter((r) => r.facts[0] === '@background');
  assert.deepEqual(background.stdout.trimEnd().split('\n'), [
    line(record!),
    `1 violation${SUMMARY}`,
  ]);
  const none = leash(dir, ['policy', 'review', '--scope', 'GET /nowhere']);
  assert.equal(none.code, 0);
  assert.equal(none.stdout, 'no recorded violations\n');
});

test('review --module lists only that module’s violations', () => {
  const dir = workdir();
  withCspViolation(dir);
  const csp = leash(dir, ['policy', 'review', '--module', 'csp']);
  assert.equal(csp.code, 0, csp.stderr);
  assert.deepEqual(csp.stdout.trimEnd().split('\n'), [line(cspRecord), `1 violation${SUMMARY}`]);
  const runtime = leash(dir, ['policy', 'review', '-m', 'runtime']);
  assert.equal(runtime.code, 0, runtime.stderr);
  assert.match(runtime.stdout, /^2 violations;/m);
  assert.doesNotMatch(runtime.stdout, /csp|img-src/);
  assert.equal(
    leash(dir, ['policy', 'review', '--module', 'sql']).stdout,
    'no recorded violations\n',
  );
});

test('review --approve adds the violations to the policy, clears them, and the service then runs under enforce', () => {
  const dir = workdir();
  copyFileSync(join(dir, POLICY), join(dir, 'old.policy.json'));
  const approved = leash(dir, ['policy', 'review', '--approve']);
  assert.equal(approved.code, 0, approved.stderr);
  assert.match(approved.stdout, /^approved 2 violations into \S*leash\.policy\.json$/m);

  const diff = leash(dir, ['policy', 'diff', 'old.policy.json', POLICY]);
  assert.equal(diff.code, 1, diff.stdout + diff.stderr);
  assert.deepEqual(diff.stdout.trimEnd().split('\n'), [
    `${POLICY} grants 2 rules that old.policy.json does not:`,
    `  + runtime: ${backgroundRead().join(' › ')}`,
    `  + runtime: ${startupRead().join(' › ')}`,
  ]);
  assert.deepEqual(violationsIn(dir), []);

  const again = leash(dir, ['policy', 'review']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'no recorded violations\n');

  // The approved policy is what enforce reads: the workload that was reported now runs (in the
  // directory the policy was learned in, where the service's own files are granted).
  const enforced = leash(
    recorded,
    ['enforce', '--policy', join(dir, POLICY), '--', process.execPath, 'service.mjs'],
    {
      STARTUP_READ: join(data, 'b.txt'),
      BACKGROUND_READ: join(data, 'c.txt'),
    },
  );
  assert.equal(enforced.code, 0, enforced.stderr);
  assert.doesNotMatch(enforced.stderr, /ERR_LEASH_DENIED|"event":"violation"/);
});

test('review --approve with --scope or --module approves only those and keeps the rest for review', () => {
  const dir = workdir();
  withCspViolation(dir);
  copyFileSync(join(dir, POLICY), join(dir, 'old.policy.json'));
  const scoped = leash(dir, ['policy', 'review', '--approve', '--scope', '@startup']);
  assert.equal(scoped.code, 0, scoped.stderr);
  assert.match(scoped.stdout, /^approved 1 violation into /m);
  assert.deepEqual(
    violationsIn(dir).map((r) => r.facts),
    [cspRecord.facts, backgroundRead()],
  );

  const csp = leash(dir, ['policy', 'review', '--approve', '--module', 'csp']);
  assert.equal(csp.code, 0, csp.stderr);
  assert.deepEqual(
    violationsIn(dir).map((r) => r.facts),
    [backgroundRead()],
  );
  const diff = leash(dir, ['policy', 'diff', 'old.policy.json', POLICY]);
  assert.equal(diff.code, 1);
  assert.deepEqual(diff.stdout.trimEnd().split('\n').slice(1), [
    `  + csp: ${cspRecord.facts.join(' › ')}`,
    `  + runtime: ${startupRead().join(' › ')}`,
  ]);
});

test('a malformed violations file is one line naming file:line:col, exit 2, and nothing is approved', () => {
  const dir = workdir();
  const policyBefore = readFileSync(join(dir, POLICY), 'utf8');
  writeFileSync(
    join(dir, VIOLATIONS),
    '{\n  "version": 1,\n  "violations": [\n    { "module": "runtime", }\n  ]\n}\n',
  );
  for (const args of [
    ['policy', 'review'],
    ['policy', 'review', '--approve'],
  ]) {
    const { code, stdout, stderr } = leash(dir, args);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, '');
    assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
    assert.match(stderr, /^leash: \S*leash\.violations\.json:4:\d+: invalid JSON: /);
  }
  assert.equal(readFileSync(join(dir, POLICY), 'utf8'), policyBefore);

  writeFileSync(
    join(dir, VIOLATIONS),
    '{\n  "version": 1,\n  "violations": [\n    {\n      "module": "runtime",\n      "facts": ["@startup"],\n      "mode": "report",\n      "count": 0,\n      "firstSeen": "2026-08-01T10:00:00.000Z",\n      "lastSeen": "2026-08-01T10:00:00.000Z"\n    }\n  ]\n}\n',
  );
  const schema = leash(dir, ['policy', 'review']);
  assert.equal(schema.code, 2);
  assert.equal(schema.stderr.trimEnd().split('\n').length, 1, schema.stderr);
  assert.match(
    schema.stderr,
    /^leash: \S*leash\.violations\.json:8:16: \$\.violations\[0\]\.count: expected a count of at least 1$/m,
  );
});

test('review --approve --id approves that one violation alone; --reject --id drops one without granting it', () => {
  const dir = workdir();
  copyFileSync(join(dir, POLICY), join(dir, 'old.policy.json'));
  const records = violationsIn(dir);
  const startup = records.find((r) => r.facts[0] === '@startup')!;
  const background = records.find((r) => r.facts[0] === '@background')!;
  // The same violation has the same id in every listing, whatever else was recorded.
  assert.match(violationId(startup), /^[0-9a-f]{10}$/);
  assert.notEqual(violationId(startup), violationId(background));

  const approved = leash(dir, ['policy', 'review', '--approve', '--id', violationId(startup)]);
  assert.equal(approved.code, 0, approved.stderr);
  assert.deepEqual(approved.stdout.trimEnd().split('\n'), [
    line(startup),
    `approved 1 violation into ${POLICY}`,
  ]);
  assert.deepEqual(
    violationsIn(dir).map((r) => r.facts),
    [background.facts],
  );
  const diff = leash(dir, ['policy', 'diff', 'old.policy.json', POLICY]);
  assert.deepEqual(diff.stdout.trimEnd().split('\n').slice(1), [
    `  + runtime: ${startup.facts.join(' › ')}`,
  ]);

  const policyBefore = readFileSync(join(dir, POLICY), 'utf8');
  const rejected = leash(dir, ['policy', 'review', '--reject', '--id', violationId(background)]);
  assert.equal(rejected.code, 0, rejected.stderr);
  assert.match(
    rejected.stdout,
    /^rejected 1 violation: cleared from the record, the policy is unchanged$/m,
  );
  assert.deepEqual(violationsIn(dir), []);
  assert.equal(
    readFileSync(join(dir, POLICY), 'utf8'),
    policyBefore,
    'a rejected violation is not granted',
  );
});

test('an id no violation has is one line and exit 2, and nothing is approved', () => {
  const dir = workdir();
  const policyBefore = readFileSync(join(dir, POLICY), 'utf8');
  const violationsBefore = readFileSync(join(dir, VIOLATIONS), 'utf8');
  const [first] = violationsIn(dir);
  const result = leash(dir, [
    'policy',
    'review',
    '--approve',
    '--id',
    `${violationId(first!)},0123456789`,
  ]);
  assert.equal(result.code, 2);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, /no recorded violation has the id 0123456789; nothing was changed/);
  assert.equal(readFileSync(join(dir, POLICY), 'utf8'), policyBefore);
  assert.equal(readFileSync(join(dir, VIOLATIONS), 'utf8'), violationsBefore);
  const both = leash(dir, ['policy', 'review', '--approve', '--reject']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--approve and --reject exclude each other/);
});

test('review --interactive asks for each violation: approve one, reject another, the answers apply', () => {
  const dir = workdir();
  copyFileSync(join(dir, POLICY), join(dir, 'old.policy.json'));
  const [first, second] = violationsIn(dir);
  const result = spawnSync(process.execPath, [BIN, 'policy', 'review', '--interactive'], {
    cwd: dir,
    encoding: 'utf8',
    input: 'r\na\n',
    ...SINGLE_PROCESS_LIMIT,
    env: { ...process.env, NO_COLOR: '1', LEASH_MODE: '', LEASH_POLICY: '', LEASH_CONFIG: '' },
  });
  assert.equal(result.status, 0, result.stderr);
  assert.match(
    result.stdout,
    new RegExp(
      `${violationId(first!)}: approve \\(a\\), reject \\(r\\), skip \\(s\\) or quit \\(q\\)\\? `,
    ),
  );
  assert.match(
    result.stdout,
    /approved 1 violation into leash\.policy\.json, rejected 1, 0 left for later/,
  );
  assert.deepEqual(violationsIn(dir), []);
  const diff = leash(dir, ['policy', 'diff', 'old.policy.json', POLICY]);
  assert.deepEqual(diff.stdout.trimEnd().split('\n').slice(1), [
    `  + runtime: ${second!.facts.join(' › ')}`,
  ]);

  // The end of the input leaves the rest for later and changes nothing.
  const fresh = workdir();
  const before = readFileSync(join(fresh, VIOLATIONS), 'utf8');
  const none = spawnSync(process.execPath, [BIN, 'policy', 'review', '-i'], {
    cwd: fresh,
    encoding: 'utf8',
    input: '',
    ...SINGLE_PROCESS_LIMIT,
    env: { ...process.env, NO_COLOR: '1', LEASH_MODE: '', LEASH_POLICY: '', LEASH_CONFIG: '' },
  });
  assert.equal(none.status, 0, none.stderr);
  assert.match(none.stdout, /approved 0 violations .*, rejected 0, 2 left for later/);
  assert.equal(readFileSync(join(fresh, VIOLATIONS), 'utf8'), before);
});
