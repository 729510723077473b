import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modules } from '../../test/store/fixtures/demo-module.ts';
import { tempDir } from '../../test/store/helpers.ts';
import { DEFAULT_SIMPLIFY_OPTIONS } from '../core/kind.ts';
import type { Policy } from '../core/policy.ts';
import { allows, rules } from '../core/tree.ts';
import { isLeashError } from '../errors.ts';
import { createFileStore } from './file-store.ts';
import { createLearner, type FlushEvent } from './learner.ts';
import type { PolicyStore } from './store.ts';

function setup(t: { after(fn: () => void): void }) {
  const file = join(tempDir(t), 'leash.policy.json');
  const store = createFileStore({ file, modules });
  return { file, store };
}

const demoRules = (p: Policy) => rules(p.modules.get('demo')!);

test('learn says whether a fact sequence is new, without touching the store', (t) => {
  const { store } = setup(t);
  let calls = 0;
  const counting: PolicyStore = {
    ...store,
    update: (change) => {
      calls++;
      return store.update(change);
    },
  };
  const learner = createLearner({ store: counting, modules });
  assert.equal(learner.learn('demo', ['GET /', 'a']), true);
  assert.equal(learner.learn('demo', ['GET /', 'a']), false);
  assert.equal(learner.learn('demo', ['GET /', 'b']), true);
  assert.equal(calls, 0);
  learner.flush();
  assert.equal(calls, 1);
  assert.equal(learner.learn('demo', ['GET /', 'a']), false, 'already stored');
  assert.equal(learner.learn('demo', ['GET /', 'c']), true);
});

test('learn rejects unknown modules and facts of the wrong shape', (t) => {
  const learner = createLearner({ store: setup(t).store, modules });
  assert.throws(
    () => learner.learn('nope', ['a', 'b']),
    (e: unknown) => isLeashError(e, 'ERR_LEASH_MODULE') && /unknown module "nope"/.test(e.message),
  );
  assert.throws(() => learner.learn('demo', ['a']), /ends before a rule does/);
  assert.throws(() => learner.learn('demo', ['a', 'b', 'c']), /longer than its kinds allow/);
});

test('flush merges pending facts into what is stored and returns the result', (t) => {
  const { file, store } = setup(t);
  writeFileSync(file, '{ "version": 1, "demo": { "GET /": ["by-hand"] } }\n');
  const events: FlushEvent[] = [];
  const learner = createLearner({ store, modules, onFlush: (e) => events.push(e) });
  learner.learn('demo', ['GET /', 'a']);
  learner.learn('demo', ['POST /', 'b']);
  const policy = learner.flush();
  assert.deepEqual(demoRules(policy), [
    ['GET /', 'a'],
    ['GET /', 'by-hand'],
    ['POST /', 'b'],
  ]);
  assert.deepEqual(demoRules(store.load()), demoRules(policy));
  assert.equal(events.length, 1);
  assert.equal(events[0]!.facts, 2);
  assert.equal(events[0]!.violations, 0);
  learner.flush();
  assert.equal(events[1]!.facts, 0, 'pending was cleared');
});

test('flush simplifies the merged policy when given simplify options', (t) => {
  const { file, store } = setup(t);
  writeFileSync(file, '{ "version": 1, "demo": { "GET /": ["*"] } }\n');
  const plain = createLearner({ store, modules });
  plain.learn('demo', ['GET /', 'a']);
  assert.deepEqual(demoRules(plain.flush()), [
    ['GET /', '*'],
    ['GET /', 'a'],
  ]);
  const simplifying = createLearner({ store, modules, simplifyOptions: DEFAULT_SIMPLIFY_OPTIONS });
  simplifying.learn('demo', ['GET /', 'b']);
  assert.deepEqual(demoRules(simplifying.flush()), [['GET /', '*']]);
  assert.match(readFileSync(file, 'utf8'), /"GET \/": \[\n {6}"\*"\n {4}\]/);
});

test('a failed flush keeps the pending facts for the next one', (t) => {
  const { file, store } = setup(t);
  writeFileSync(file, '{ "version": 1, ');
  const learner = createLearner({ store, modules });
  learner.learn('demo', ['GET /', 'a']);
  learner.recordViolation('demo', ['GET /', 'x'], 'report');
  assert.throws(
    () => learner.flush(),
    (e: unknown) => isLeashError(e, 'ERR_LEASH_POLICY_PARSE'),
  );
  writeFileSync(file, '{ "version": 1 }');
  const policy = learner.flush();
  assert.ok(allows(policy.modules.get('demo')!, ['GET /', 'a']).allowed);
  assert.equal(store.loadViolations().length, 1);
});

test('stop reports a flush error instead of throwing', (t) => {
  const { file, store } = setup(t);
  writeFileSync(file, 'nope');
  const errors: unknown[] = [];
  const learner = createLearner({ store, modules, onFlushError: (e) => errors.push(e) });
  learner.start();
  learner.learn('demo', ['GET /', 'a']);
  learner.stop();
  assert.equal(errors.length, 1);
  assert.ok(isLeashError(errors[0], 'ERR_LEASH_POLICY_PARSE'));
});

test('recordViolation counts in memory and flush saves the counts', (t) => {
  const { store } = setup(t);
  const learner = createLearner({ store, modules });
  const before = Date.now();
  learner.recordViolation('demo', ['GET /', 'x'], 'enforce', ['GET /', 'a']);
  learner.recordViolation('demo', ['GET /', 'x'], 'enforce', ['GET /', 'b']);
  learner.recordViolation('demo', ['GET /', 'x'], 'report');
  learner.recordViolation('demo', ['GET /', 'x'], 'enforce');
  learner.flush();
  learner.recordViolation('demo', ['GET /', 'x'], 'enforce');
  learner.flush();
  const records = store.loadViolations();
  assert.equal(records.length, 2);
  const [enforced, reported] = records;
  assert.equal(enforced!.mode, 'enforce');
  assert.equal(enforced!.count, 4);
  assert.deepEqual(enforced!.nearest, ['GET /', 'b']);
  assert.ok(Date.parse(enforced!.firstSeen) >= before - 1);
  assert.ok(enforced!.firstSeen <= enforced!.lastSeen);
  assert.equal(reported!.mode, 'report');
  assert.equal(reported!.count, 1);
  assert.equal(reported!.nearest, undefined);
});

test('start flushes on a timer and stop removes every listener it added', async (t) => {
  const { store } = setup(t);
  const counts = () => ['exit', 'SIGINT', 'SIGTERM'].map((e) => process.listenerCount(e));
  const before = counts();
  // The interval runs on mocked time: ticks, not the machine's load, decide how often it fired.
  t.mock.timers.enable({ apis: ['setInterval'] });
  const flushed: FlushEvent[] = [];
  const learner = createLearner({
    store,
    modules,
    flushIntervalMs: 10,
    onFlush: (e) => flushed.push(e),
  });
  learner.start();
  learner.start();
  const other = createLearner({ store, modules, flushIntervalMs: 10 });
  other.start();
  assert.deepEqual(
    counts(),
    before.map((n) => n + 1),
  );
  t.mock.timers.tick(10);
  assert.equal(flushed.length, 0, 'nothing pending, nothing flushed');
  learner.learn('demo', ['GET /', 'timer']);
  t.mock.timers.tick(9);
  assert.equal(flushed.length, 0, 'not before the interval');
  t.mock.timers.tick(1);
  assert.equal(flushed.length, 1, 'flushed on the interval');
  t.mock.timers.tick(100);
  assert.equal(flushed.length, 1, 'flushes only when something is pending');
  assert.ok(allows(store.load().modules.get('demo')!, ['GET /', 'timer']).allowed);
  learner.stop();
  assert.deepEqual(
    counts(),
    before.map((n) => n + 1),
  );
  other.stop();
  assert.deepEqual(counts(), before);
});

test('a burst of new facts is flushed as soon as maxPendingFacts are pending', (t) => {
  const { store } = setup(t);
  const events: FlushEvent[] = [];
  const learner = createLearner({
    store,
    modules,
    maxPendingFacts: 10,
    onFlush: (e) => events.push(e),
  });
  for (let i = 0; i < 25; i++) learner.learn('demo', ['GET /', `f${i}`]);
  assert.deepEqual(
    events.map((e) => e.facts),
    [10, 10],
  );
  assert.equal(demoRules(store.load()).length, 20, 'the 5 still pending wait for the next flush');
  learner.flush();
  assert.equal(demoRules(store.load()).length, 25);
});
