import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modules } from '../../test/store/fixtures/demo-module.ts';
import { tempDir } from '../../test/store/helpers.ts';
import { emptyPolicy, equals, isEmpty, merge, type Policy, treeFor } from '../core/policy.ts';
import { add, allows } from '../core/tree.ts';
import { isLeashError } from '../errors.ts';
import { createFileStore, lockPath, spoolPath, violationsPath } from './file-store.ts';
import { serializePolicy } from './policy-file.ts';
import type { ViolationRecord } from './store.ts';

function policyWith(...facts: Array<[string, string]>): Policy {
  const map = new Map();
  for (const f of facts) add(treeFor(map, 'demo', modules), f);
  return { version: 1, modules: map };
}

function allowed(policy: Policy, facts: [string, string]): boolean {
  const t = policy.modules.get('demo');
  return t !== undefined && allows(t, facts).allowed;
}

test('an absent policy file loads as an empty policy and is not created by a no-op update', (t) => {
  const dir = tempDir(t);
  const store = createFileStore({ file: join(dir, 'leash.policy.json'), modules });
  assert.ok(isEmpty(store.load()));
  store.update((p) => p);
  assert.deepEqual(readdirSync(dir), ['leash.policy.json.lock']);
  assert.deepEqual(store.loadViolations(), []);
});

test('update writes the policy, load reads it back', (t) => {
  const file = join(tempDir(t), 'leash.policy.json');
  const store = createFileStore({ file, modules });
  const wanted = policyWith(['GET /', 'a'], ['GET /', 'b'], ['POST /x', 'c']);
  const returned = store.update(() => wanted);
  assert.ok(equals(returned, wanted));
  assert.ok(equals(store.load(), wanted));
  assert.equal(readFileSync(file, 'utf8'), serializePolicy(wanted));
  assert.equal(store.location, file);
});

test('update merges with what is on disk at the time, including other writers', (t) => {
  const file = join(tempDir(t), 'leash.policy.json');
  const a = createFileStore({ file, modules });
  const b = createFileStore({ file, modules });
  a.update((p) => merge(p, policyWith(['GET /', 'a'])));
  b.update((p) => merge(p, policyWith(['GET /', 'b'])));
  const result = a.update((p) => merge(p, policyWith(['GET /', 'c'])));
  for (const r of ['a', 'b', 'c']) assert.ok(allowed(result, ['GET /', r]), r);
  assert.ok(equals(b.load(), result));
});

test('an update that changes no rule leaves the file (and its formatting) alone', (t) => {
  const file = join(tempDir(t), 'leash.policy.json');
  const handWritten = '{ "version": 1, "demo": { "GET /": ["a"] } }';
  writeFileSync(file, handWritten);
  const before = statSync(file).mtimeMs;
  const store = createFileStore({ file, modules });
  store.update((p) => merge(p, policyWith(['GET /', 'a'])));
  assert.equal(readFileSync(file, 'utf8'), handWritten);
  assert.equal(statSync(file).mtimeMs, before);
});

test('a bad policy file is a parse error with file:line:col, and update does not overwrite it', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'leash.policy.json');
  const bad = '{\n  "version": 1,\n  "demo": { "GET /": ["a", ] }\n}\n';
  writeFileSync(file, bad);
  const store = createFileStore({ file: 'leash.policy.json', modules });
  const inDir = createFileStore({ file, modules });
  assert.throws(
    () => inDir.load(),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_POLICY_PARSE') &&
      e.message.startsWith(`${file}:3:`) &&
      e.details.line === 3,
  );
  assert.throws(
    () => inDir.update((p) => merge(p, policyWith(['GET /', 'b']))),
    (e: unknown) => isLeashError(e, 'ERR_LEASH_POLICY_PARSE'),
  );
  assert.equal(readFileSync(file, 'utf8'), bad);
  assert.equal(store.location, 'leash.policy.json');
});

test('a schema error names the JSON path', (t) => {
  const file = join(tempDir(t), 'leash.policy.json');
  writeFileSync(file, '{\n  "version": 1,\n  "nope": {}\n}\n');
  assert.throws(
    () => createFileStore({ file, modules }).load(),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_POLICY_SCHEMA') && e.message.startsWith(`${file}:3:3:`),
  );
});

test('a policy path that cannot be read is ERR_LEASH_POLICY_IO with the reason', (t) => {
  const file = join(tempDir(t), 'leash.policy.json');
  mkdirSync(file);
  assert.throws(
    () => createFileStore({ file, modules }).load(),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_POLICY_IO') &&
      e.message === `cannot read ${file}: EISDIR: illegal operation on a directory, read`,
  );
});

test('update refuses to write a module that is not registered', (t) => {
  const file = join(tempDir(t), 'leash.policy.json');
  const store = createFileStore({ file, modules });
  const demoTree = policyWith(['GET /', 'a']).modules.get('demo')!;
  assert.throws(
    () => store.update(() => ({ version: 1, modules: new Map([['other', demoTree]]) })),
    /module "other"/,
  );
});

test('violation files sit next to the policy', () => {
  assert.equal(violationsPath('/x/leash.policy.json'), '/x/leash.violations.json');
  assert.equal(violationsPath('/x/app.json'), '/x/app.violations.json');
  assert.equal(violationsPath('/x/policy'), '/x/policy.violations.json');
  assert.equal(lockPath('/x/leash.policy.json'), '/x/leash.policy.json.lock');
  assert.equal(spoolPath('/x/leash.policy.json'), '/x/leash.violations.spool');
  assert.equal(spoolPath('/x/app.json'), '/x/app.violations.spool');
});

const v = (over: Partial<ViolationRecord> & Pick<ViolationRecord, 'facts'>): ViolationRecord => ({
  module: 'demo',
  mode: 'report',
  count: 1,
  firstSeen: '2026-08-01T10:00:00.000Z',
  lastSeen: '2026-08-01T10:00:00.000Z',
  ...over,
});

test('recordViolations merges by module, facts and mode', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'leash.policy.json');
  const store = createFileStore({ file, modules });
  store.recordViolations([
    v({ facts: ['GET /', 'z'], count: 2, nearest: ['GET /', 'a'] }),
    v({ facts: ['GET /', 'b'], mode: 'enforce' }),
  ]);
  store.recordViolations([
    v({
      facts: ['GET /', 'z'],
      count: 3,
      firstSeen: '2026-07-01T00:00:00.000Z',
      lastSeen: '2026-07-02T00:00:00.000Z',
      nearest: ['GET /', 'old'],
    }),
    v({ facts: ['GET /', 'z'], lastSeen: '2026-08-02T00:00:00.000Z', nearest: ['GET /', 'new'] }),
    v({ facts: ['GET /', 'b'], mode: 'report' }),
  ]);
  assert.deepEqual(store.loadViolations(), [
    v({ facts: ['GET /', 'b'], mode: 'enforce' }),
    v({ facts: ['GET /', 'b'], mode: 'report' }),
    v({
      facts: ['GET /', 'z'],
      count: 6,
      firstSeen: '2026-07-01T00:00:00.000Z',
      lastSeen: '2026-08-02T00:00:00.000Z',
      nearest: ['GET /', 'new'],
    }),
  ]);
  const text = readFileSync(join(dir, 'leash.violations.json'), 'utf8');
  assert.match(text, /^\{\n {2}"version": 1,\n {2}"violations": \[\n/);
  assert.match(text, /"facts": \["GET \/", "b"\],/);
  assert.deepEqual(JSON.parse(text).violations.length, 3);
});

test('updateViolations replaces the records', (t) => {
  const store = createFileStore({ file: join(tempDir(t), 'leash.policy.json'), modules });
  store.recordViolations([v({ facts: ['GET /', 'a'] }), v({ facts: ['GET /', 'b'] })]);
  store.updateViolations((records) => records.filter((r) => r.facts[1] !== 'a'));
  assert.deepEqual(store.loadViolations(), [v({ facts: ['GET /', 'b'] })]);
  store.updateViolations(() => []);
  assert.deepEqual(store.loadViolations(), []);
});

const spoolLine = (...records: ViolationRecord[]) =>
  `${JSON.stringify({ version: 1, violations: records })}\n`;

test('a store with `spool` reads the spool the launcher fills, and merges it into the file on the next write', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'leash.policy.json');
  const spool = join(dir, 'leash.violations.spool');
  const warnings: string[] = [];
  const store = createFileStore({ file, modules, spool: { warn: (m) => warnings.push(m) } });
  const plain = createFileStore({ file, modules });
  store.recordViolations([v({ facts: ['GET /', 'a'] })]);
  writeFileSync(
    spool,
    spoolLine(v({ facts: ['GET /', 'a'], count: 2 }), v({ facts: ['GET /', 'b'] })) +
      '{"version": 1, "violations": [\n' +
      '\n' +
      spoolLine(v({ facts: ['GET /', 'c'], mode: 'enforce' })),
  );
  const expected = [
    v({ facts: ['GET /', 'a'], count: 3 }),
    v({ facts: ['GET /', 'b'] }),
    v({ facts: ['GET /', 'c'], mode: 'enforce' }),
  ];
  // Reading includes the spool and changes nothing; a store without `spool` does not see it.
  assert.deepEqual(store.loadViolations(), expected);
  assert.deepEqual(plain.loadViolations(), [v({ facts: ['GET /', 'a'] })]);
  assert.ok(existsSync(spool));
  // Any write of violations merges it and removes it; the bad line is said once, by file:line:col.
  store.updateViolations((records) => records);
  assert.equal(existsSync(spool), false);
  assert.deepEqual(plain.loadViolations(), expected);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(
    warnings[0]!,
    new RegExp(`^dropped a violations record from the service: ${spool}:2:\\d+: invalid JSON`),
  );
  writeFileSync(spool, spoolLine(v({ facts: ['GET /', 'b'], count: 4 })));
  store.recordViolations([v({ facts: ['GET /', 'd'] })]);
  assert.equal(existsSync(spool), false);
  assert.deepEqual(
    plain.loadViolations().map((r) => [r.facts[1], r.count]),
    [
      ['a', 3],
      ['b', 5],
      ['c', 1],
      ['d', 1],
    ],
  );
});

test('a bad violations file is an error with file:line:col and JSON path', (t) => {
  const dir = tempDir(t);
  const store = createFileStore({ file: join(dir, 'leash.policy.json'), modules });
  const vfile = join(dir, 'leash.violations.json');
  writeFileSync(vfile, '{ "version": 1, "violations": [ }');
  assert.throws(
    () => store.loadViolations(),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_POLICY_PARSE') && e.message.startsWith(`${vfile}:1:`),
  );
  writeFileSync(
    vfile,
    [
      '{',
      '  "version": 1,',
      '  "violations": [',
      '    { "module": "demo", "facts": ["GET /", "a"], "mode": "report", "count": 0,',
      '      "firstSeen": "2026-08-01T10:00:00.000Z", "lastSeen": "2026-08-01T10:00:00.000Z" }',
      '  ]',
      '}',
    ].join('\n'),
  );
  assert.throws(
    () => store.recordViolations([v({ facts: ['GET /', 'a'] })]),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_POLICY_SCHEMA') &&
      e.message === `${vfile}:4:77: $.violations[0].count: expected a count of at least 1`,
  );
  writeFileSync(vfile, '{ "version": 2, "violations": [] }');
  assert.throws(() => store.loadViolations(), /unknown version 2/);
  writeFileSync(
    vfile,
    '{ "version": 1, "violations": [{ "module": "demo", "facts": ["a"], "mode": "x", "count": 1, "firstSeen": "2026-08-01T10:00:00.000Z", "lastSeen": "2026-08-01T10:00:00.000Z" }] }',
  );
  assert.throws(
    () => store.loadViolations(),
    /\$\.violations\[0\]\.mode: expected "report" or "enforce"/,
  );
  writeFileSync(
    vfile,
    '{ "version": 1, "violations": [{ "module": "demo", "facts": ["a"], "mode": "report", "count": 1, "firstSeen": "yesterday", "lastSeen": "2026-08-01T10:00:00.000Z" }] }',
  );
  assert.throws(
    () => store.loadViolations(),
    /\$\.violations\[0\]\.firstSeen: expected an ISO date-time/,
  );
});

test('load does not create files; emptyPolicy round-trips', (t) => {
  const dir = tempDir(t);
  const store = createFileStore({ file: join(dir, 'leash.policy.json'), modules });
  assert.ok(equals(store.load(), emptyPolicy()));
  assert.deepEqual(readdirSync(dir), []);
});
