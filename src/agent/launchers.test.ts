import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLauncher } from './launchers.ts';

test('npm, npx, pnpm, yarn and corepack CLIs are launchers, wherever they are installed', () => {
  for (const script of [
    '/usr/lib/node_modules/npm/bin/npm-cli.js',
    '/usr/lib/node_modules/npm/bin/npx-cli.js',
    '/home/u/.nvm/versions/node/v26.1.0/lib/node_modules/npm/bin/npm-cli.js',
    '/srv/app/node_modules/pnpm/bin/pnpm.cjs',
    '/usr/local/lib/node_modules/yarn/bin/yarn.js',
    '/srv/app/.yarn/releases/yarn-4.5.0.cjs',
    '/usr/lib/node_modules/corepack/dist/pnpm.js',
  ]) {
    assert.equal(isLauncher(script), true, script);
  }
});

test('a service, a test file or a script merely named like a launcher is not one', () => {
  for (const script of [
    undefined,
    '/srv/app/server.js',
    '/srv/app/test/npm-cli.js',
    '/srv/app/node_modules/npm-run-all/bin/npm-run-all/index.js',
    '/srv/app/node_modules/.bin/npm',
    '/srv/app/npm/bin/npm-cli.js',
  ]) {
    assert.equal(isLauncher(script), false, String(script));
  }
});
