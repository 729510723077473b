// Module loading is the process's, not the route's: a dependency that loads part of itself lazily
// in whichever request needs it first (CJS require, require of JSON, import()) was learned in one
// route; after a restart another route doing the same load first must not be refused. Reads that
// are not module loading stay the route's.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPolicyJson } from '../support/policy-json.ts';
import { startUnder } from './helpers.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/lazy-load-service.mjs', import.meta.url));

let dir: string;
let service: string;
const env = () => ({ DATA_DIR: join(dir, 'data') });

// `pnpm`: laid out as pnpm installs it, the files under node_modules/.pnpm and a link to them.
function writePackage(
  name: string,
  files: Record<string, string>,
  type = 'commonjs',
  layout: 'npm' | 'pnpm' = 'npm',
): void {
  const link = join(dir, 'node_modules', name);
  const root =
    layout === 'npm'
      ? link
      : join(dir, 'node_modules', '.pnpm', `${name}@1.0.0`, 'node_modules', name);
  mkdirSync(root, { recursive: true });
  if (layout === 'pnpm') symlinkSync(root, link, 'dir');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name, version: '1.0.0', type }));
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(join(root, file, '..'), { recursive: true });
    writeFileSync(join(root, file), text);
  }
}

async function post(base: string, path: string, body: string) {
  const response = await fetch(new URL(path, base), { method: 'POST', body });
  return { status: response.status, body: await response.text() };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leash-lazy-'));
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data', 'profile.txt'), 'profile');
  service = join(dir, 'service.mjs');
  copyFileSync(FIXTURE, service);
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  writePackage(
    'lazy-codec',
    {
      'index.js':
        "let table;\nexports.decode = (text) => {\n  table ??= require('./encodings/index.js');\n  return table.decode(text);\n};\n",
      'encodings/index.js':
        "const names = require('./names.json');\nexports.decode = (text) => names.utf8 + ':' + text;\n",
      'encodings/names.json': '{ "utf8": "utf-8" }',
    },
    'commonjs',
    'pnpm',
  );
  writePackage(
    'lazy-esm',
    { 'index.js': 'export const shout = (s) => s.toUpperCase();\n' },
    'module',
  );

  // Learning: only /register decodes a body (and reads the profile).
  const learning = await startUnder(['learn', '--', process.execPath, service], {
    cwd: dir,
    env: env(),
  });
  try {
    assert.deepEqual(await post(learning.base, '/register', 'ann'), {
      status: 200,
      body: 'register UTF-8:ANN',
    });
  } finally {
    await learning.stop();
  }
});

test('the lazy loads are learned once for the process, under @loader, folded per root', () => {
  const policy = readPolicyJson(join(dir, 'leash.policy.json'), { app: dir });
  assert.ok(
    policy.runtime['@loader'].node['fs.read'].includes(`${dir}/**`),
    JSON.stringify(policy.runtime, null, 2),
  );
  // pnpm's store is a dot directory that `**` does not enter: it is a root of its own.
  assert.ok(
    policy.runtime['@loader'].node['fs.read'].includes(`${dir}/node_modules/.pnpm/**`),
    JSON.stringify(policy.runtime, null, 2),
  );
  assert.deepEqual(policy.runtime['POST /register'], {
    app: { 'fs.read': [join(dir, 'data', 'profile.txt')] },
  });
});

for (const layer of ['process', 'both'] as const) {
  test(`enforce (${layer}): another route doing the same lazy load first is not refused; its other reads still are`, async () => {
    const enforcing = await startUnder(
      ['enforce', `--layer=${layer}`, '--', process.execPath, service],
      {
        cwd: dir,
        env: env(),
      },
    );
    try {
      // A returning user logs in before anyone registers: the lazy load happens here first.
      assert.deepEqual(await post(enforcing.base, '/login', 'bob'), {
        status: 200,
        body: 'login UTF-8:BOB',
      });
      assert.deepEqual(await post(enforcing.base, '/register', 'cy'), {
        status: 200,
        body: 'register UTF-8:CY',
      });
      // Reading a file is not module loading: learned in /register only, so refused in /profile.
      const profile = await fetch(new URL('/profile', enforcing.base));
      assert.equal(profile.status, 500);
      assert.equal(await profile.text(), 'ERR_LEASH_DENIED');
    } finally {
      await enforcing.stop();
    }
    assert.doesNotMatch(enforcing.stderr(), /"facts":\["@loader"/, 'no loader read was refused');
  });
}
