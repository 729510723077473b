import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Caller, createPackageResolver, packageOfPath } from './package-of.ts';

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

test('a native-addon locator (bindings, node-gyp-build) calls as the module loader; other packages do not', () => {
  const root = mkdtempSync(join(tmpdir(), 'leash-package-of-'));
  const here = new URL(import.meta.url).pathname;
  const resolver = createPackageResolver({ selfDirs: [here.slice(0, here.lastIndexOf('/'))] });
  const callerFrom = (name: string) => {
    const dir = join(root, 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    // The package's own code makes the call, as bindings' fs probes do.
    writeFileSync(join(dir, 'index.js'), 'module.exports = (resolver) => resolver.caller();\n');
    const look = createRequire(join(root, 'index.js'))(name) as (r: typeof resolver) => Caller;
    const { package: pkg, loader } = look(resolver);
    return { package: pkg, loader };
  };
  assert.deepEqual(callerFrom('bindings'), { package: 'bindings', loader: true });
  assert.deepEqual(callerFrom('node-gyp-build'), { package: 'node-gyp-build', loader: true });
  assert.deepEqual(callerFrom('left-pad'), { package: 'left-pad', loader: false });
});

test('read from below the wrapper the service called, the caller is the same; a wrapper not on the stack falls back', () => {
  const root = mkdtempSync(join(tmpdir(), 'leash-package-of-'));
  const here = new URL(import.meta.url).pathname;
  const resolver = createPackageResolver({ selfDirs: [here.slice(0, here.lastIndexOf('/'))] });
  // leash's wrapper (this file): its own frames come first, as in a wrapped fs function.
  const wrapper = (): [Caller, Caller, Caller] => {
    const inner = () => [resolver.caller(wrapper), resolver.caller(), resolver.caller(() => 0)];
    return inner() as [Caller, Caller, Caller];
  };
  const dir = join(root, 'node_modules', 'evil-pkg');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'index.js'), 'module.exports = (wrapped) => wrapped();\n');
  const call = createRequire(join(root, 'index.js'))('evil-pkg') as (w: typeof wrapper) => Caller[];
  const expected = { package: 'evil-pkg', loader: false };
  for (const { package: pkg, loader } of call(wrapper))
    assert.deepEqual({ package: pkg, loader }, expected);
});

test("a call through graceful-fs is the write queue's when steno made it, graceful-fs's otherwise", () => {
  const root = mkdtempSync(join(tmpdir(), 'leash-package-of-'));
  const here = new URL(import.meta.url).pathname;
  const resolver = createPackageResolver({ selfDirs: [here.slice(0, here.lastIndexOf('/'))] });
  const packageAt = (name: string, source: string) => {
    const dir = join(root, 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'index.js'), source);
  };
  // leash's fs wrapper (this file) is what graceful-fs calls, as it calls the patched fs.
  const wrapper = (): [Caller, Caller] => [resolver.caller(wrapper), resolver.caller()];
  // Two frames of graceful-fs's own, as its writeFile calls its inner go$writeFile.
  packageAt(
    'graceful-fs',
    'module.exports = (w) => inner(w);\nfunction inner(w) { return w(); }\n',
  );
  packageAt('steno', "const fs = require('graceful-fs');\nmodule.exports = (w) => fs(w);\n");
  packageAt('fs-extra', "const fs = require('graceful-fs');\nmodule.exports = (w) => fs(w);\n");
  const load = createRequire(join(root, 'index.js'));
  const via = (name: string) =>
    (load(name) as (w: typeof wrapper) => Caller[])(wrapper).map((c) => c.package);
  assert.deepEqual(via('steno'), ['steno', 'steno']);
  assert.deepEqual(via('fs-extra'), ['graceful-fs', 'graceful-fs']);
  assert.deepEqual(via('graceful-fs'), ['graceful-fs', 'graceful-fs']);
});
