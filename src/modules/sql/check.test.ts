import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHost, type HostSink } from '../../agent/host.ts';
import { runInRequest } from '../../attribution/scope.ts';
import { DEFAULT_SIMPLIFY_OPTIONS } from '../../core/kind.ts';
import { observationFact } from '../../core/kinds/sql.ts';
import { addRule, createTree, replaceContents } from '../../core/tree.ts';
import { isLeashError } from '../../errors.ts';
import { createLogger } from '../../log/logger.ts';
import { createSqlChecker, recordsNothing } from './check.ts';
import { sqlModule } from './module.ts';
import { SHORT_DIGEST, valueDigest } from './sensitive.ts';
import { templateId } from './sources.ts';
import { createStatementCache } from './statement-cache.ts';

const SCOPE = 'GET /notes';
const SQL = 'SELECT title FROM notes WHERE owner = ? LIMIT ?';
const TEMPLATE = 'SELECT title FROM notes WHERE owner = $1 LIMIT $2';

/** An enforcing checker over these rules; `refused` counts the violations the host recorded. */
function enforcer(rules: readonly (readonly string[])[], mode: 'enforce' | 'learn' = 'enforce') {
  const tree = createTree(sqlModule.root);
  for (const rule of rules) addRule(tree, [SCOPE, TEMPLATE, ...rule]);
  const refused: string[][] = [];
  const learned: string[][] = [];
  const sink: HostSink = {
    learn: (_module, facts) => learned.push([...facts]) > 0,
    learnRule: (_module, rule) => learned.push([...rule]) > 0,
    recordViolation: (_module, facts) => refused.push([...facts]),
  };
  const host = createHost({
    module: sqlModule,
    mode,
    tree,
    policyFile: 'test.policy.json',
    simplify: DEFAULT_SIMPLIFY_OPTIONS,
    sink,
    logger: createLogger({ level: 'silent' }),
    appRoot: '/srv/app',
    use: () => ({ scope: SCOPE, package: 'app' }),
    settings: { principal: 'req.user', inputHeaders: [], maxRememberedValues: 100 },
  });
  const checker = createSqlChecker(
    host,
    createStatementCache({ max: 100 }),
    { principal: 'req.user', headers: [], maxRemembered: 100 },
    new Set(),
  );
  /** Runs the statement as `user` with these values; true when allowed. */
  const run = (user: string, owner: string, limit: number): boolean => {
    const state = { scope: SCOPE, request: { user, headers: {} }, principal: user };
    try {
      runInRequest(state, () => checker.check('sqlite', SQL, { positional: [owner, limit] }));
      return true;
    } catch (error) {
      if (isLeashError(error, 'ERR_LEASH_DENIED')) return false;
      throw error;
    }
  };
  return { run, refused, learned, tree };
}

test('a remembered decision is keyed by where each value came from, not by the value', () => {
  const { run, refused } = enforcer([
    ['$1', '=principal'],
    ['$2', 'in ["10"]'],
  ]);
  assert.equal(run('ann', 'ann', 10), true);
  // Another user's own notes: the same sources, so the same remembered decision.
  assert.equal(run('bob', 'bob', 10), true);
  // Bob asking for ann's notes: the value no longer equals the principal.
  assert.equal(run('bob', 'ann', 10), false);
  // A constant outside the learned set, after the same statement was allowed with 10.
  assert.equal(run('bob', 'bob', 11), false);
  assert.equal(refused.length, 2);
});

test('a rule that names one digest is never answered from what another value was allowed', () => {
  const annOnly = observationFact({ eq: ['=principal'], h: valueDigest('ann', SHORT_DIGEST) });
  const { run } = enforcer([
    ['$1', annOnly],
    ['$2', '*'],
  ]);
  assert.equal(run('ann', 'ann', 10), true);
  assert.equal(run('ann', 'ann', 10), true);
  assert.equal(run('bob', 'bob', 10), false);
});

test('a route learned with one user (an exact observation): repeats allowed, other users and values refused however often it ran', () => {
  const annOnly = observationFact({ eq: ['=principal'], h: valueDigest('ann', SHORT_DIGEST) });
  const { run, refused } = enforcer([
    ['$1', annOnly],
    ['$2', 'in ["10"]'],
  ]);
  for (let i = 0; i < 3; i++) assert.equal(run('ann', 'ann', 10), true);
  assert.equal(run('bob', 'bob', 10), false);
  assert.equal(run('ann', 'ann', 11), false);
  // A value made to look like the separator of the next slot.
  assert.equal(run('ann\u0000=principal', 'ann\u0000=principal', 10), false);
  assert.equal(refused.length, 3);
});

test('learning remembers allowed executions too, and forgets them when a flush replaces the tree', () => {
  const { run, learned, tree } = enforcer(
    [
      ['$1', '=principal'],
      ['$2', '*'],
    ],
    'learn',
  );
  assert.equal(run('ann', 'ann', 10), true);
  assert.equal(run('bob', 'bob', 20), true);
  assert.deepEqual(learned, [], 'what the rules allow teaches nothing');
  // Another value of the same source, with the rule allowing sources only by an exact observation
  // (what learning saves before a threshold generalises it): each distinct value is still learned.
  const narrower = createTree(sqlModule.root);
  addRule(narrower, [
    SCOPE,
    TEMPLATE,
    '$1',
    observationFact({ eq: ['=principal'], h: valueDigest('ann', SHORT_DIGEST) }),
  ]);
  addRule(narrower, [SCOPE, TEMPLATE, '$2', '*']);
  replaceContents(tree, narrower);
  assert.equal(run('ann', 'ann', 10), true);
  assert.deepEqual(learned, [], 'ann is the observation the saved tree holds');
  assert.equal(run('bob', 'bob', 20), true);
  assert.equal(learned.length, 1, 'bob, allowed before the flush by =principal, is learned now');
  assert.equal(run('cy', 'cy', 30), true);
  assert.equal(learned.length, 2, 'and every other distinct value after it');
});

test('enforcing keeps the results a constraint names, and only those statements get a recorder', () => {
  const cache = createStatementCache({ max: 100 });
  const OWNER_OF = 'SELECT owner FROM notes WHERE id = ?';
  const SHARED = 'SELECT title FROM shares WHERE owner = ?';
  const COUNT = 'SELECT COUNT(*) AS n FROM notes';
  const ownerOf = cache.get(OWNER_OF, 'sqlite').text;
  const shared = cache.get(SHARED, 'sqlite').text;
  const count = cache.get(COUNT, 'sqlite').text;
  const source = `result.${templateId(ownerOf)}.owner`;
  const tree = createTree(sqlModule.root);
  addRule(tree, [SCOPE, ownerOf, '$1', '*']);
  addRule(tree, [SCOPE, shared, '$1', `=${source}`]);
  addRule(tree, [SCOPE, count]);
  const host = createHost({
    module: sqlModule,
    mode: 'enforce',
    tree,
    policyFile: 'test.policy.json',
    simplify: DEFAULT_SIMPLIFY_OPTIONS,
    sink: { learn: () => true, learnRule: () => true, recordViolation: () => {} },
    logger: createLogger({ level: 'silent' }),
    appRoot: '/srv/app',
    use: () => ({ scope: SCOPE, package: 'app' }),
    settings: { principal: undefined, inputHeaders: [], maxRememberedValues: 100 },
  });
  const checker = createSqlChecker(
    host,
    cache,
    { principal: undefined, headers: [], maxRemembered: 100 },
    new Set([source]),
  );
  /** In one request: the owner of note 1 is read (returning `owner`), then the shares of `who`. */
  const request = (owner: string, who: string) => {
    const state = { scope: SCOPE, request: { headers: {} } };
    return runInRequest(state, () => {
      const counted = checker.check('sqlite', COUNT, { positional: [] });
      const remember = checker.check('sqlite', OWNER_OF, { positional: [1] });
      remember([{ owner, title: 'x' }]);
      try {
        checker.check('sqlite', SHARED, { positional: [who] });
      } catch (error) {
        if (isLeashError(error, 'ERR_LEASH_DENIED')) return { allowed: false, counted, remember };
        throw error;
      }
      return { allowed: true, counted, remember };
    });
  };
  const first = request('ann', 'ann');
  assert.equal(first.allowed, true, 'the value an earlier statement returned');
  assert.equal(request('ann', 'bob').allowed, false, 'not what it returned');
  assert.equal(recordsNothing(first.counted), true, 'no constraint reads a count');
  assert.equal(recordsNothing(first.remember), false);
  // A new request remembers nothing of the last one.
  const state = { scope: SCOPE, request: { headers: {} } };
  assert.throws(
    () => runInRequest(state, () => checker.check('sqlite', SHARED, { positional: ['ann'] })),
    (error: unknown) => isLeashError(error, 'ERR_LEASH_DENIED'),
  );
});
