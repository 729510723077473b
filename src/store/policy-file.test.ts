import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as policy from '../core/policy.ts';
import { add, createTree } from '../core/tree.ts';
import { isLeashError } from '../errors.ts';
import { registryWith } from '../modules/builtin.ts';
import { parsePolicy, serializePolicy } from './policy-file.ts';

const modules = registryWith();
const parse = (text: string) => parsePolicy(text, { file: 'leash.policy.json', modules });

function errorOf(text: string) {
  try {
    parse(text);
  } catch (error) {
    assert.ok(isLeashError(error), String(error));
    return error;
  }
  assert.fail('expected an error');
}

test('serialises with sorted keys, arrays where rules end, and a trailing newline', () => {
  const runtime = createTree(modules.get('runtime')!.root);
  add(runtime, ['POST /upload', 'app', 'fs.write', '/data/b.png']);
  add(runtime, ['GET /', 'app', 'fs.read', '/srv/z']);
  add(runtime, ['GET /', 'app', 'fs.read', '/srv/a']);
  add(runtime, ['GET /', 'pg', 'net.connect', '127.0.0.1:5432']);
  const text = serializePolicy(policy.policyOf([['runtime', runtime]]));
  assert.equal(
    text,
    `{
  "version": 1,
  "runtime": {
    "GET /": {
      "app": {
        "fs.read": [
          "/srv/a",
          "/srv/z"
        ]
      },
      "pg": {
        "net.connect": [
          "127.0.0.1:5432"
        ]
      }
    },
    "POST /upload": {
      "app": {
        "fs.write": [
          "/data/b.png"
        ]
      }
    }
  }
}
`,
  );
  assert.equal(serializePolicy(parse(text)), text);
});

test('an empty module section is accepted and grants nothing', () => {
  const p = parse('{ "version": 1, "runtime": {} }');
  assert.equal(policy.countRules(p), 0);
});

test('invalid JSON: file:line:col and the reason', () => {
  const error = errorOf('{\n  "version": 1,\n  "runtime": { ]\n}');
  assert.equal(error.code, 'ERR_LEASH_POLICY_PARSE');
  assert.match(error.message, /^leash\.policy\.json:3:16: invalid JSON: Unexpected token/);
  assert.equal(error.details.line, 3);
});

test('a duplicate key is an error, not a silent last-one-wins', () => {
  const error = errorOf('{ "version": 1, "version": 1 }');
  assert.match(error.message, /duplicate key "version" at \$/);
});

test('shape errors name the JSON path, the position and what was expected', () => {
  const error = errorOf(
    '{\n  "version": 1,\n  "runtime": {\n    "GET /": { "app": { "fs.read": "/a" } }\n  }\n}',
  );
  assert.equal(error.code, 'ERR_LEASH_POLICY_SCHEMA');
  assert.match(
    error.message,
    /^leash\.policy\.json:4:\d+: \$\.runtime\["GET \/"\]\.app\["fs\.read"\]: expected an object of rules or an array of strings/,
  );
  const leaf = errorOf('{ "version": 1, "runtime": { "GET /": { "app": ["fs.read"] } } }');
  assert.match(
    leaf.message,
    /\$\.runtime\["GET \/"\]\.app\[0\]: a capability is followed by a path: expected an object/,
  );
  const deep = errorOf(
    '{ "version": 1, "runtime": { "GET /": { "app": { "fs.read": { "/a": { "x": [] } } } } } }',
  );
  assert.match(deep.message, /a rule ends at this path: expected \{\} or an entry in an array/);
});

test('an unknown version names the version this leash reads', () => {
  assert.match(
    errorOf('{ "version": "1" }').message,
    /\$\.version: unknown version "1": this leash reads version 1/,
  );
  assert.match(errorOf('[]').message, /expected object/i);
});
