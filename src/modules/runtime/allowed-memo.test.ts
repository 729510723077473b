import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHost } from '../../agent/host.ts';
import { DEFAULT_SIMPLIFY_OPTIONS } from '../../core/kind.ts';
import { addRule, createTree, replaceContents } from '../../core/tree.ts';
import { isLeashError } from '../../errors.ts';
import { createLogger } from '../../log/logger.ts';
import { createRuntimeContext } from './context.ts';
import { runtimeModule } from './module.ts';

const FILE = '/srv/app/views/item.html';

/** An enforcing runtime context over `rules` (in @startup); the caller's package is settable. */
function enforcing(rules: readonly (readonly string[])[]) {
  const tree = createTree(runtimeModule.root);
  for (const rule of rules) addRule(tree, ['@startup', ...rule]);
  const refused: string[][] = [];
  const host = createHost({
    module: runtimeModule,
    mode: 'enforce',
    tree,
    policyFile: 'test.policy.json',
    simplify: DEFAULT_SIMPLIFY_OPTIONS,
    sink: {
      learn: () => true,
      learnRule: () => true,
      recordViolation: (_module, facts) => refused.push([...facts]),
    },
    logger: createLogger({ level: 'silent' }),
    appRoot: '/srv/app',
    use: () => ({ scope: '@startup', package: caller.package }),
    settings: { principal: undefined, inputHeaders: [], maxRememberedValues: 100 },
  });
  const caller = { package: 'app', looks: 0 };
  const packages = {
    current: () => caller.package,
    callerBelow: () => undefined,
    caller: () => {
      caller.looks++;
      return { package: caller.package, loader: false };
    },
    ofFile: () => caller.package,
  };
  const context = createRuntimeContext(host, packages, '/srv/app');
  /** Reads FILE as `pkg`; true when allowed. */
  const read = (pkg: string): boolean => {
    caller.package = pkg;
    try {
      context.check('fs.read', FILE);
      return true;
    } catch (error) {
      if (isLeashError(error, 'ERR_LEASH_DENIED')) return false;
      throw error;
    }
  };
  return { read, caller, refused, tree };
}

test('a use granted to every package (`*`) is decided without a look at the stack', () => {
  const { read, caller } = enforcing([['*', 'fs.read', FILE]]);
  assert.equal(read('app'), true);
  assert.equal(read('left-pad'), true);
  assert.equal(caller.looks, 0);
});

test('a use remembered as granted to one package is still refused to another', () => {
  const { read, caller, refused } = enforcing([['app', 'fs.read', FILE]]);
  for (let i = 0; i < 3; i++) assert.equal(read('app'), true);
  assert.equal(read('left-pad'), false);
  assert.equal(read('app'), true);
  assert.equal(read('left-pad'), false);
  assert.equal(caller.looks, 6, 'the package is looked up for every use the rule names it in');
  assert.equal(refused.length, 2);
});

test('what was remembered is forgotten when the tree is replaced (a learning flush)', () => {
  const { read, tree } = enforcing([['*', 'fs.read', FILE]]);
  assert.equal(read('left-pad'), true);
  const narrower = createTree(runtimeModule.root);
  addRule(narrower, ['@startup', 'app', 'fs.read', FILE]);
  replaceContents(tree, narrower);
  assert.equal(read('left-pad'), false);
  assert.equal(read('app'), true);
});
