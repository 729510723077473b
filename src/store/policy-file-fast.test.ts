import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rules } from '../core/tree.ts';
import { registryWith } from '../modules/builtin.ts';
import { parsePolicyWithPositions } from './policy-file.ts';
import { readPolicyFast } from './policy-file-fast.ts';

const modules = registryWith();
const options = { modules, file: 'leash.policy.json' };

const VALID = [
  '{ "version": 1 }',
  '{ "version": 1, "runtime": {} }',
  JSON.stringify({
    version: 1,
    runtime: {
      'GET /a': { app: { 'fs.read': ['/srv/app/views/*.html', '/srv/a\\\\*b'] } },
      '@startup': { node: { 'fs.read': ['/srv/app/**'], 'net.connect': ['127.0.0.1:5432'] } },
      'GET /empty': { app: {} },
    },
  }),
  // A key with an escaped quote and a colon inside a string value.
  '{"version":1,"runtime":{"GET /q\\":x":{"app":{"fs.read":["/srv/a:b"]}}}}',
];

test('a valid file reads the same on the fast path as with positions', () => {
  for (const text of VALID) {
    const fast = readPolicyFast(text, options);
    assert.ok(fast !== undefined, text);
    const full = parsePolicyWithPositions(text, options);
    assert.deepEqual([...fast.modules.keys()], [...full.modules.keys()]);
    for (const [name, tree] of full.modules)
      assert.deepEqual(rules(fast.modules.get(name)!), rules(tree));
  }
});

test('anything the fast path does not accept is left to the reader that explains it', () => {
  const refused = [
    '{ "version": 1, "runtime": {}, "runtime": {} }', // duplicate key, which JSON.parse hides
    '{"version":1,"runtime":{"GET /a":{"app":{"fs.read":["/x"]},"app":{}}}}',
    '{ "version": 2 }',
    '{ "version": 1, "mail": {} }',
    '{ "version": 1, "runtime": { "GET /a": { "app": { "fs.read": ["relative"] } } } }',
    '{ "version": 1, "runtime": { "GET /a": { "app": { "fs.read": [1] } } } }',
    '{ "version": 1, "runtime": { "GET /a": ["app"] } }',
    '{ "version": 1, "runtime": { "GET /a": { "app": { "fs.read": { "/x": { "y": {} } } } } } }',
    '{ "version": 1, ',
    '[]',
  ];
  for (const text of refused) {
    assert.equal(readPolicyFast(text, options), undefined, text);
    assert.throws(() => parsePolicyWithPositions(text, options), text);
  }
});
