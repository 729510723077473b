// Every error code in src/errors.ts has a section in docs/errors.md, and the other way round.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES, LeashError, location } from '../src/errors.ts';

test('docs/errors.md documents exactly the codes of src/errors.ts', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const documented = [...doc.matchAll(/^## (ERR_LEASH_\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), Object.keys(ERROR_CODES).sort());
});

test('a LeashError carries its code and details, and location() formats file:line:col', () => {
  const error = new LeashError('ERR_LEASH_POLICY_PARSE', 'bad', {
    file: 'p.json',
    line: 3,
    column: 7,
  });
  assert.equal(error.code, 'ERR_LEASH_POLICY_PARSE');
  assert.ok(error instanceof Error);
  assert.equal(location(error.details), 'p.json:3:7');
  assert.equal(location({ file: 'p.json' }), 'p.json');
});
