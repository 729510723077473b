import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPackageResolver, packageOfPath } from './package-of.ts';

test('the package of a path is the segment after the last node_modules', () => {
  assert.equal(packageOfPath('/srv/app/server.js'), 'app');
  assert.equal(packageOfPath('/srv/app/node_modules/pg/lib/client.js'), 'pg');
  assert.equal(packageOfPath('/srv/app/node_modules/@scope/pkg/index.js'), '@scope/pkg');
  assert.equal(packageOfPath('/srv/app/node_modules/a/node_modules/b/x.js'), 'b');
  assert.equal(
    packageOfPath('/srv/app/node_modules/.pnpm/pg@8.0.0/node_modules/pg/lib/x.js'),
    'pg',
  );
});

test('leash frames and Node internals are skipped; the innermost other frame decides', () => {
  const here = new URL(import.meta.url).pathname;
  const self = createPackageResolver({ selfDirs: [here.slice(0, here.lastIndexOf('/'))] });
  // This test file is inside the "self" directory, so the first foreign frame is node:test's
  // caller chain, which is all Node internals.
  assert.equal(self.current(), 'node');
  const other = createPackageResolver({ selfDirs: ['/nonexistent'] });
  assert.equal(other.current(), 'app');
  assert.equal(other.ofFile('node:internal/fs/utils'), undefined);
  assert.equal(other.ofFile('file:///srv/app/node_modules/express/index.js'), 'express');
});
