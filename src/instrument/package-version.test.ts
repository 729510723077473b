// The version the instrumentation layer compares with a target's ranges: read from the package's
// own package.json; unknown when there is none.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageVersion } from './package-version.ts';

test('packageVersion reads package.json, and is undefined without one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-pkg-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pg', version: '8.23.1' }));
  assert.equal(packageVersion(dir), '8.23.1');
  assert.equal(packageVersion(mkdtempSync(join(tmpdir(), 'leash-pkg-'))), undefined);
  assert.equal(packageVersion(undefined), undefined);
});
