import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addRule, createTree } from '../../core/tree.ts';
import { lintRuntime } from './lint.ts';
import { runtimeModule } from './module.ts';

const context = { appRoot: '/srv/app', tmpDir: '/tmp', policyFile: '/srv/app/leash.policy.json' };

function lint(rules: string[][], where = context): string[] {
  const tree = createTree(runtimeModule.root);
  for (const rule of rules) addRule(tree, rule);
  return lintRuntime(tree, where).map((f) => `${f.message.slice(0, 11)} ${f.path.join(' › ')}`);
}

test('LEASHWRN007: a write anywhere in the temp directory root', () => {
  assert.deepEqual(lint([['POST /upload', 'app', 'fs.write', '/tmp/*']]), [
    'LEASHWRN007 POST /upload › app › fs.write › /tmp/*',
  ]);
  assert.deepEqual(lint([['POST /upload', 'app', 'fs.write', '/tmp/*.tgz']]).length, 1);
  // A directory of the service's own inside the temp directory is fine.
  assert.deepEqual(lint([['POST /upload', 'app', 'fs.write', '/tmp/app-uploads/*']]), []);
  assert.deepEqual(lint([['POST /upload', 'app', 'fs.write', '/tmp/one-file.txt']]), []);
});

test('LEASHWRN008: a ** write', () => {
  assert.deepEqual(lint([['POST /upload', 'app', 'fs.write', '/var/data/**']]), [
    'LEASHWRN008 POST /upload › app › fs.write › /var/data/**',
  ]);
  assert.deepEqual(lint([['GET /files', 'app', 'fs.read', '/var/data/**']]), []);
});

test('LEASHWRN009: a grant over the app root; the module loader’s own rule is expected', () => {
  assert.deepEqual(lint([['@background', 'app', 'fs.write', '/srv/app/*']]), [
    'LEASHWRN009 @background › app › fs.write › /srv/app/*',
    // … which includes the policy file.
    'LEASHWRN010 @background › app › fs.write › /srv/app/*',
  ]);
  assert.deepEqual(lint([['GET /x', 'app', 'fs.read', '/srv/app/**/*.js']]), [
    'LEASHWRN009 GET /x › app › fs.read › /srv/app/**/*.js',
  ]);
  assert.deepEqual(lint([['@loader', 'node', 'fs.read', '/srv/app/**']]), []);
  assert.deepEqual(lint([['GET /x', 'app', 'fs.read', '/srv/app/views/*.html']]), []);
});

test('LEASHWRN010: grants over .env, keys, certificates and the policy file', () => {
  assert.deepEqual(lint([['GET /x', 'app', 'fs.read', '/srv/app/.env']]), [
    'LEASHWRN010 GET /x › app › fs.read › /srv/app/.env',
  ]);
  assert.deepEqual(lint([['GET /x', 'app', 'fs.read', '/srv/app/certs/*']]), [
    'LEASHWRN010 GET /x › app › fs.read › /srv/app/certs/*',
  ]);
  assert.deepEqual(lint([['POST /x', 'app', 'fs.write', '/srv/app/*.json']]), [
    'LEASHWRN009 POST /x › app › fs.write › /srv/app/*.json',
    'LEASHWRN010 POST /x › app › fs.write › /srv/app/*.json',
  ]);
  // dotenv and a TLS key read at start-up are what start-up is for.
  assert.deepEqual(lint([['@startup', 'dotenv', 'fs.read', '/srv/app/.env']]), []);
  assert.deepEqual(lint([['GET /x', 'app', 'fs.read', '/var/data/uploads/*']]), []);
});

test('LEASHWRN011: a @background grant that covers what many routes each do', () => {
  const routes = ['POST /a', 'POST /b', 'POST /c'].map((r) => [
    r,
    'app',
    'fs.write',
    `/var/data/${r.slice(6)}/*`,
  ]);
  assert.deepEqual(lint([...routes, ['@background', 'app', 'fs.write', '/var/data/*/*']]), [
    'LEASHWRN011 @background › app › fs.write › /var/data/*/*',
  ]);
  assert.deepEqual(
    lint([...routes.slice(0, 2), ['@background', 'app', 'fs.write', '/var/data/*/*']]),
    [],
  );
});

test('an app checked out inside the temp directory: its own writes are not the temp root', () => {
  const inTmp = { appRoot: '/tmp/app', tmpDir: '/tmp', policyFile: '/tmp/app/leash.policy.json' };
  assert.deepEqual(lint([['POST /x', 'app', 'fs.write', '/tmp/app/data/*']], inTmp), []);
  // A write anywhere in the temp directory's root is one there too (written by hand: learning
  // places no wildcard above the app).
  assert.deepEqual(lint([['POST /x', 'app', 'fs.write', '/tmp/*']], inTmp), [
    'LEASHWRN007 POST /x › app › fs.write › /tmp/*',
  ]);
});
