// The version gate of every hook: the supported major passes; another major, or a package whose
// version cannot be read, is named with what goes unchecked.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { unsupportedVersion } from './package-version.ts';

const packageDir = (version: string) => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-pkg-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pg', version }));
  return dir;
};

test('unsupportedVersion: the supported major passes, others and unknown ones are explained', () => {
  assert.equal(unsupportedVersion(packageDir('8.23.1'), 'pg', 8, 'unchecked'), undefined);
  assert.equal(
    unsupportedVersion(packageDir('9.0.0'), 'pg', 8, 'its queries would not be checked'),
    'pg 9.0.0 is not supported (8.x is): its queries would not be checked',
  );
  assert.equal(
    unsupportedVersion(mkdtempSync(join(tmpdir(), 'leash-pkg-')), 'pg', 8, 'unchecked'),
    'pg (unknown version) is not supported (8.x is): unchecked',
  );
  assert.equal(
    unsupportedVersion(undefined, 'pg', 8, 'unchecked'),
    'pg (unknown version) is not supported (8.x is): unchecked',
  );
});
