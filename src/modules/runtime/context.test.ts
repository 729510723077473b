import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOADER, POOL } from '../../attribution/scope.ts';
import { createTree, type Facts } from '../../core/tree.ts';
import type { ModuleHost } from '../../module/module.ts';
import { createRuntimeContext } from './context.ts';
import { runtimeModule } from './module.ts';

/** A learning host that keeps the facts it was asked about; the caller is `pkg`. */
function contextFor(pkg: string, loader = false) {
  const asked: Facts[] = [];
  const host = {
    mode: 'learn',
    tree: createTree(runtimeModule.root),
    check: (facts: Facts) => {
      asked.push(facts);
      return { allowed: true };
    },
    observe: (facts: Facts) => {
      asked.push(facts);
      return { allowed: true };
    },
  } as unknown as ModuleHost;
  const packages = {
    current: () => pkg,
    caller: () => ({ package: pkg, loader }),
    callerBelow: () => undefined,
    ofFile: () => pkg,
  };
  return { context: createRuntimeContext(host, packages, '/srv/app'), asked };
}

test("an embedded database driver's file checks are the process's (@pool), another package's the scope's", () => {
  for (const driver of ['better-sqlite3', 'sqlite3', 'steno']) {
    const { context, asked } = contextFor(driver);
    context.check('fs.read', '/srv/app/data/server-files');
    assert.deepEqual(asked, [[POOL, driver, 'fs.read', '/srv/app/data/server-files']]);
  }
  const { context, asked } = contextFor('left-pad');
  context.check('fs.read', '/srv/app/data/server-files');
  assert.deepEqual(asked, [['@startup', 'left-pad', 'fs.read', '/srv/app/data/server-files']]);
});

test('a native addon loaded by the module loader is the process’s (@loader), one rule per file', () => {
  const { context, asked } = contextFor('require-in-the-middle', true);
  context.check('addon.load', '/srv/app/node_modules/x/build/Release/x.node');
  assert.deepEqual(asked, [
    [LOADER, 'node', 'addon.load', '/srv/app/node_modules/x/build/Release/x.node'],
  ]);
});
