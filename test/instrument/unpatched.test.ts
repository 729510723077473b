// A SQL driver leash does not cover, loaded by a real service under the CLI: one warning line
// while learning; in enforce mode the service does not start, with one line naming
// ERR_LEASH_UNPATCHED, unless the config lists the package in ignoreUnpatched.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN } from '../runtime/helpers.ts';
import { run } from '../support/processes.ts';

/** An app whose service loads a package named `mysql` (its entry requires a file of its own). */
function app(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-unpatched-'));
  const pkg = join(dir, 'node_modules', 'mysql');
  mkdirSync(join(pkg, 'lib'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'mysql', version: '2.18.1' }));
  writeFileSync(join(pkg, 'index.js'), "module.exports = require('./lib/connection.js');");
  writeFileSync(join(pkg, 'lib', 'connection.js'), 'module.exports = { createConnection() {} };');
  writeFileSync(join(dir, 'service.mjs'), "import 'mysql';\nconsole.log('service ran');\n");
  return dir;
}

function leash(dir: string, mode: string) {
  // In its own process group, killed whole at the limit (the service too, not only leash).
  return run(process.execPath, [BIN, mode, '--', process.execPath, 'service.mjs'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', LEASH_MODE: '', LEASH_CONFIG: '', LEASH_POLICY: '' },
  });
}

test('an uncovered SQL driver: a warning while learning, no start in enforce, a start when ignored', async () => {
  const dir = app();
  const learning = await leash(dir, 'learn');
  assert.equal(learning.status, 0, learning.stderr);
  assert.match(learning.stdout, /service ran/);
  assert.match(learning.stderr, /mysql 2\.18\.1 is loaded but leash does not cover it/);

  const enforcing = await leash(dir, 'enforce');
  assert.equal(enforcing.status, 2, enforcing.stderr);
  assert.doesNotMatch(enforcing.stdout, /service ran/);
  // The supervisor's own line (which layers enforce) may come first; then the agent's one line.
  const lines = enforcing.stderr
    .trimEnd()
    .split('\n')
    .filter((line) => !line.startsWith('leash: enforce layers:'));
  assert.deepEqual(lines, [
    'leash: not starting the service: ERR_LEASH_UNPATCHED: mysql 2.18.1 is loaded but leash does not cover it: its statements are not checked by the sql module (list "mysql" in ignoreUnpatched in the config to run it unchecked)',
  ]);

  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ ignoreUnpatched: ['mysql'] }));
  const ignored = await leash(dir, 'enforce');
  assert.equal(ignored.status, 0, ignored.stderr);
  assert.match(ignored.stdout, /service ran/);
});

test('better-sqlite3 outside its range (14): learning warns, enforce stops with one line instead of a stack trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-unpatched-'));
  const pkg = join(dir, 'node_modules', 'better-sqlite3');
  mkdirSync(join(pkg, 'lib'), { recursive: true });
  writeFileSync(
    join(pkg, 'package.json'),
    JSON.stringify({ name: 'better-sqlite3', version: '14.0.0' }),
  );
  writeFileSync(join(pkg, 'index.js'), "module.exports = require('./lib/database.js');");
  writeFileSync(join(pkg, 'lib', 'database.js'), 'module.exports = function Database() {};');
  writeFileSync(
    join(dir, 'service.mjs'),
    "import 'better-sqlite3';\nconsole.log('service ran');\n",
  );
  const learning = await leash(dir, 'learn');
  assert.equal(learning.status, 0, learning.stderr);
  assert.match(learning.stderr, /better-sqlite3 14\.0\.0 is not supported \(>=12\.8\.0 <14\)/);
  const enforcing = await leash(dir, 'enforce');
  assert.equal(enforcing.status, 2, enforcing.stderr);
  assert.doesNotMatch(enforcing.stdout, /service ran/);
  const lines = enforcing.stderr
    .trimEnd()
    .split('\n')
    .filter((line) => !line.startsWith('leash: enforce layers:'));
  assert.equal(lines.length, 1, enforcing.stderr);
  assert.match(
    lines[0]!,
    /^leash: not starting the service: ERR_LEASH_UNPATCHED: better-sqlite3 14\.0\.0 is not supported/,
  );
});
