import assert from 'node:assert/strict';
import { test } from 'node:test';
import { policyOf } from '../core/policy.ts';
import { add, addRule, createTree } from '../core/tree.ts';
import { registryWith } from '../modules/builtin.ts';
import { sqlModule } from '../modules/sql/module.ts';
import { coverageReport, exactSlots, learnSummary } from './learn-summary.ts';

const runtime = registryWith().get('runtime')!;

function runtimePolicy(facts: string[][]) {
  const tree = createTree(runtime.root);
  for (const f of facts) add(tree, f);
  return policyOf([['runtime', tree]]);
}

const read = (scope: string, file: string) => [scope, 'app', 'fs.read', file];

test('counts rules and scopes per module, and the rules this run added', () => {
  const before = runtimePolicy([read('@startup', '/srv/a.txt')]);
  const after = runtimePolicy([
    read('@startup', '/srv/a.txt'),
    read('@startup', '/srv/b.txt'),
    read('GET /x', '/srv/c.txt'),
  ]);
  assert.equal(
    learnSummary(before, after, 'leash.policy.json'),
    'leash learn: leash.policy.json holds 3 rules, 2 new in this run\n' +
      '  runtime: 3 rules in 2 scopes, 2 new\n',
  );
});

test('a first run says the policy is new; a run that learned nothing says 0 new', () => {
  const policy = runtimePolicy([read('@startup', '/srv/a.txt')]);
  assert.match(
    learnSummary(undefined, policy, 'p.json'),
    /holds 1 rule, 1 new in this run \(a new policy\)/,
  );
  assert.match(learnSummary(policy, policy, 'p.json'), /holds 1 rule, 0 new in this run\n/);
});

test('the summary names SQL slots still exact, with how many distinct values were seen', () => {
  const tree = createTree(sqlModule.root);
  const template = 'SELECT * FROM t WHERE a = $1 AND b = $2';
  addRule(tree, ['GET /x', template, '$1', '{"eq":[],"v":"one"}']);
  addRule(tree, ['GET /x', template, '$1', '{"eq":[],"v":"two"}']);
  addRule(tree, ['GET /x', template, '$2', '=principal']);
  const after = { version: 1 as const, modules: new Map([['sql', tree]]) };
  const text = learnSummary(undefined, after, 'p.json', 3);
  assert.match(
    text,
    /sql: 1 slot still exact, .*\(GET \/x › SELECT \* FROM t WHERE a = \$1 AND b = \$2 › \$1: 2 of 3\)/,
  );
  assert.deepEqual(exactSlots(after, 2), []);
});

test('the coverage report lists rules per module and every exact slot with what would generalise it', () => {
  const tree = createTree(sqlModule.root);
  const template = 'SELECT * FROM t WHERE a = $1 AND b = $2';
  addRule(tree, ['GET /x', template, '$1', '{"eq":[],"v":"one"}']);
  addRule(tree, ['GET /x', template, '$2', '=principal']);
  addRule(tree, ['GET /y', template, '$1', '=request.query.a']);
  const p = { version: 1 as const, modules: new Map([['sql', tree]]) };
  assert.equal(
    coverageReport(p, 'p.json', 3),
    [
      'p.json: 3 rules',
      '  sql: 3 rules in 2 scopes',
      '  sql: 1 slot still exact (only the values seen are allowed):',
      `    GET /x › ${template} › $1: seen 1; send 2 more distinct values to generalise`,
      '',
    ].join('\n'),
  );
  const general = { version: 1 as const, modules: new Map([['sql', createTree(sqlModule.root)]]) };
  assert.match(coverageReport(general, 'q.json'), /sql: no slot is still exact/);
});
