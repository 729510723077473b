// The instrumentation layer on real packages: enable → disable → enable for every target leash
// patches, a version outside a range (warned, or refused in enforce unless ignored), a target
// loaded before leash, and a SQL driver leash does not cover.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { FRAMEWORK_INSTRUMENTATIONS } from '../../src/adapters/install.ts';
import { UNCOVERED_SQL_DRIVERS } from '../../src/drivers/uncovered.ts';
import { isLeashError, type LeashError } from '../../src/errors.ts';
import { type EnableOptions, enableInstrumentations } from '../../src/instrument/enable.ts';
import {
  defineInstrumentation,
  type Instrumentation,
  type PatchedFile,
} from '../../src/instrument/instrumentation.ts';
import { isWrapped } from '../../src/instrument/shimmer.ts';
import { runtimeInstrumentations } from '../../src/modules/runtime/module.ts';
import type { SqlChecker } from '../../src/modules/sql/check.ts';
import { sqlDriverInstrumentations } from '../../src/modules/sql/module.ts';
import { aliasedLayout } from '../support/aliases.ts';

const require = createRequire(import.meta.url);
const checker: SqlChecker = {
  check: () => () => {},
  expect: () => {},
  mustWait: () => false,
  defer: () => {},
};
const TARGETS = [
  ...FRAMEWORK_INSTRUMENTATIONS,
  ...sqlDriverInstrumentations(checker),
  ...runtimeInstrumentations({ check: () => {} }),
];

/** Where each target's patch shows: the file to require and a probe of its patched method. */
const PROBES: Record<string, { file: string; patched: (exports: never) => boolean }> = {
  express: {
    file: 'express/lib/application.js',
    patched: (app: { handle: unknown }) => isWrapped(app.handle),
  },
  fastify: {
    file: 'fastify/lib/reply.js',
    patched: (Reply: { prototype: object }) => Object.hasOwn(Reply.prototype, 'cspNonce'),
  },
  'find-my-way': {
    file: 'find-my-way',
    patched: (Router: { prototype: { lookup: unknown } }) => isWrapped(Router.prototype.lookup),
  },
  pg: {
    file: 'pg/lib/client.js',
    patched: (Client: { prototype: { query: unknown } }) => isWrapped(Client.prototype.query),
  },
  postgres: {
    // Its exports map keeps internals from `require('postgres/…')`: the CommonJS file by path.
    file: join(dirname(require.resolve('postgres')), 'query.js'),
    patched: (query: { Query: { prototype: { handle: unknown } } }) =>
      isWrapped(query.Query.prototype.handle),
  },
  'pg-pool': {
    file: 'pg-pool',
    patched: (Pool: { prototype: { query: unknown } }) => isWrapped(Pool.prototype.query),
  },
  'better-sqlite3': {
    file: 'better-sqlite3/lib/database.js',
    patched: (Database: { prototype: { exec: unknown } }) => isWrapped(Database.prototype.exec),
  },
  'koa-compose': {
    file: 'koa-compose',
    // The export itself is replaced; disabled, the wrapper passes through.
    patched: (compose: unknown) => isWrapped(compose),
  },
  '@hapi/hapi': {
    file: '@hapi/hapi/lib/request.js',
    patched: (Request: { prototype: { _lookup: unknown } }) => isWrapped(Request.prototype._lookup),
  },
  undici: {
    file: 'undici/lib/dispatcher/dispatcher-base.js',
    patched: (Base: { prototype: { dispatch: unknown } }) => isWrapped(Base.prototype.dispatch),
  },
  steno: {
    file: 'steno',
    patched: (steno: { writeFile: unknown; writeFileSync: unknown }) =>
      isWrapped(steno.writeFile) && isWrapped(steno.writeFileSync),
  },
  mysql2: {
    // By path: mysql2's package.json `exports` hides its lib/ from require('mysql2/lib/…').
    file: join(dirname(require.resolve('mysql2')), 'lib', 'base', 'connection.js'),
    patched: (Connection: { prototype: { query: unknown; execute: unknown } }) =>
      isWrapped(Connection.prototype.query) && isWrapped(Connection.prototype.execute),
  },
  sqlite3: {
    file: 'sqlite3/lib/sqlite3-binding.js',
    patched: (sqlite3: { Statement: { prototype: { run: unknown } } }) =>
      isWrapped(sqlite3.Statement.prototype.run),
  },
};

function options(overrides: Partial<EnableOptions> = {}) {
  const warnings: string[] = [];
  const refusals: LeashError[] = [];
  return {
    warnings,
    refusals,
    options: {
      mode: 'learn' as const,
      warn: (message: string) => warnings.push(message),
      refuse: (error: LeashError) => refusals.push(error),
      ...overrides,
    },
  };
}

test('every target has a probe (a new target needs one here)', () => {
  assert.deepEqual(TARGETS.map((t) => t.package).sort(), Object.keys(PROBES).sort());
});

for (const target of TARGETS) {
  test(`${target.package}: enable patches it as it loads, disable restores it, enable again patches again`, () => {
    const probe = PROBES[target.package]!;
    const { options: opts } = options();
    let disable = enableInstrumentations([target], [], opts);
    const exports = require(probe.file) as never;
    assert.equal(probe.patched(exports), true, 'patched after enable');
    disable();
    assert.equal(probe.patched(exports), false, 'restored after disable');
    disable = enableInstrumentations([target], [], opts);
    assert.equal(probe.patched(require(probe.file) as never), true, 'patched after enable again');
    disable();
    assert.equal(probe.patched(exports), false);
  });
}

test('postgres as an ES module (`import`): patched as it loads, restored, patched again', async () => {
  const target = TARGETS.find((t) => t.package === 'postgres')!;
  const { options: opts } = options();
  let disable = enableInstrumentations([target], [], opts);
  const { default: postgres } = (await import('postgres')) as {
    default: (url: string) => (strings: TemplateStringsArray) => object;
  };
  // A query that is never awaited never connects; its class is the ES module build's.
  const Query = Object.getPrototypeOf(postgres('postgres://127.0.0.1:1/none')`SELECT 1`) as {
    handle: unknown;
  };
  assert.equal(isWrapped(Query.handle), true, 'patched after enable');
  disable();
  assert.equal(isWrapped(Query.handle), false, 'restored after disable');
  disable = enableInstrumentations([target], [], opts);
  assert.equal(isWrapped(Query.handle), true, 'patched after enable again');
  disable();
  assert.equal(isWrapped(Query.handle), false);
  const cjs = require('postgres') as typeof postgres;
  assert.notEqual(Object.getPrototypeOf(cjs('postgres://127.0.0.1:1/none')`SELECT 1`), Query);
});

/** A fake ES module package in its own node_modules; the URL of its lib/api.js. */
function fakeEsmPackage(name: string, version: string): string {
  const pkg = join(mkdtempSync(join(tmpdir(), 'leash-instrument-')), 'node_modules', name);
  mkdirSync(join(pkg, 'lib'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, version, type: 'module' }));
  writeFileSync(join(pkg, 'lib', 'api.js'), 'export class Api { query() { return 1; } }');
  return pathToFileURL(join(pkg, 'lib', 'api.js')).href;
}

test('an ES module file: patched in place as it loads in range; out of range, or needing its exports replaced, warned', async () => {
  const patchApi = (exports: unknown) => {
    const proto = (exports as { Api: { prototype: { query(): number } } }).Api.prototype;
    const original = proto.query;
    proto.query = () => 2;
    return () => {
      proto.query = original;
    };
  };
  const target = (name: string, patch: PatchedFile['patch']) =>
    defineInstrumentation({
      package: name,
      purpose: 'test',
      consequence: 'its queries would not be checked',
      failClosed: true,
      files: [{ file: 'lib/api.js', versions: '>=2.0.0 <3', patch }],
    });
  type Api = { Api: new () => { query(): number } };

  const inRange = options();
  let disable = enableInstrumentations([target('leash-fake-esm-a', patchApi)], [], inRange.options);
  const a = (await import(fakeEsmPackage('leash-fake-esm-a', '2.1.0'))) as Api;
  assert.equal(new a.Api().query(), 2, 'patched as it loaded');
  disable();
  assert.equal(new a.Api().query(), 1, 'restored');
  assert.deepEqual(inRange.warnings, []);

  const outOfRange = options();
  disable = enableInstrumentations([target('leash-fake-esm-b', patchApi)], [], outOfRange.options);
  const b = (await import(fakeEsmPackage('leash-fake-esm-b', '3.0.0'))) as Api;
  disable();
  assert.equal(new b.Api().query(), 1);
  assert.deepEqual(outOfRange.warnings, [
    'leash-fake-esm-b 3.0.0 is not supported (>=2.0.0 <3): its queries would not be checked',
  ]);

  const replacing = options({ mode: 'enforce' });
  disable = enableInstrumentations(
    [
      target('leash-fake-esm-c', (exports) => ({
        exports: { ...(exports as object) },
        restore() {},
      })),
    ],
    [],
    replacing.options,
  );
  await import(fakeEsmPackage('leash-fake-esm-c', '2.0.0'));
  disable();
  assert.equal(replacing.refusals.length, 1);
  assert.match(replacing.refusals[0]!.message, /loaded as an ES module cannot be patched/);
});

/**
 * Versions whose shape differs from the main devDependency's, laid out under their real names
 * (test/support/aliases.ts): better-sqlite3 13 exports a factory of Database classes from
 * lib/database.js, sqlite3 5.0 has read-only native methods (wrapped on subclasses).
 */
const OTHER_SHAPES: ReadonlyArray<{
  package: string;
  alias: string;
  file: string;
  patched: (exports: never, load: (file: string) => unknown) => boolean;
}> = [
  {
    package: 'better-sqlite3',
    alias: 'better-sqlite3-highest',
    file: 'better-sqlite3/lib/database.js',
    patched: (
      factory: (getAddon: () => unknown, native: boolean) => { prototype: object },
      load,
    ) => {
      // Every class the factory makes has its statements checked.
      const { getBinding } = load('better-sqlite3/lib/binding.js') as { getBinding(): unknown };
      const made = factory(getBinding, true);
      const exec = (made.prototype as { exec: unknown }).exec;
      return isWrapped(factory) && isWrapped(exec);
    },
  },
  {
    package: 'sqlite3',
    alias: 'sqlite3-lowest',
    file: 'sqlite3/lib/sqlite3-binding.js',
    patched: (sqlite3: {
      Statement: { prototype: { run: unknown } };
      Database: { prototype: { exec: unknown } };
    }) => isWrapped(sqlite3.Statement.prototype.run) && isWrapped(sqlite3.Database.prototype.exec),
  },
];

for (const shape of OTHER_SHAPES) {
  test(`${shape.package} as ${shape.alias} installs it: enable patches it, disable restores it, enable patches again`, () => {
    const target = TARGETS.find((t) => t.package === shape.package)!;
    const modules = aliasedLayout([[shape.package, shape.alias]]);
    // By path: better-sqlite3 13's exports map hides its lib files.
    const load = (file: string) => createRequire(join(modules, 'app.js'))(join(modules, file));
    const { options: opts } = options();
    let disable = enableInstrumentations([target], [], opts);
    const exports = load(shape.file) as never;
    assert.equal(shape.patched(exports, load), true, 'patched after enable');
    disable();
    assert.equal(shape.patched(exports, load), false, 'restored after disable');
    disable = enableInstrumentations([target], [], opts);
    assert.equal(shape.patched(load(shape.file) as never, load), true, 'patched again');
    disable();
  });
}

/** A fake package in its own node_modules, and a require from beside it. */
function fakePackage(name: string, version: string): NodeJS.Require {
  const dir = mkdtempSync(join(tmpdir(), 'leash-instrument-'));
  const pkg = join(dir, 'node_modules', name);
  mkdirSync(join(pkg, 'lib'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, version, main: 'index.js' }));
  writeFileSync(join(pkg, 'index.js'), "module.exports = require('./lib/api.js');");
  writeFileSync(join(pkg, 'lib', 'api.js'), 'module.exports = { query() { return 1; } };');
  return createRequire(join(dir, 'app.js'));
}

function fakeTarget(name: string, failClosed: boolean): Instrumentation {
  return defineInstrumentation({
    package: name,
    purpose: 'test',
    consequence: 'its queries would not be checked',
    failClosed,
    files: [{ file: 'lib/api.js', versions: '>=2.0.0 <3', patch: () => () => {} }],
  });
}

test('a version outside the range: a one-line warning while learning, no patch', () => {
  const load = fakePackage('leash-fake-a', '3.1.0');
  const { warnings, refusals, options: opts } = options();
  const disable = enableInstrumentations([fakeTarget('leash-fake-a', true)], [], opts);
  try {
    load('leash-fake-a');
  } finally {
    disable();
  }
  assert.deepEqual(refusals, []);
  assert.deepEqual(warnings, [
    'leash-fake-a 3.1.0 is not supported (>=2.0.0 <3): its queries would not be checked',
  ]);
});

test('in enforce mode an unsupported driver is ERR_LEASH_UNPATCHED, unless the config ignores it; a framework only warns', () => {
  const load = fakePackage('leash-fake-b', '1.0.0');
  const enforce = options({ mode: 'enforce' });
  let disable = enableInstrumentations([fakeTarget('leash-fake-b', true)], [], enforce.options);
  load('leash-fake-b');
  disable();
  assert.equal(enforce.refusals.length, 1);
  assert.equal(isLeashError(enforce.refusals[0], 'ERR_LEASH_UNPATCHED'), true);
  assert.match(enforce.refusals[0]!.message, /^leash-fake-b 1\.0\.0 is not supported/);

  const loadC = fakePackage('leash-fake-c', '1.0.0');
  const ignored = options({ mode: 'enforce', ignoreUnpatched: ['leash-fake-c'] });
  disable = enableInstrumentations([fakeTarget('leash-fake-c', true)], [], ignored.options);
  loadC('leash-fake-c');
  disable();
  assert.deepEqual(ignored.refusals, []);
  assert.equal(ignored.warnings.length, 1);

  const loadD = fakePackage('leash-fake-d', '1.0.0');
  const framework = options({ mode: 'enforce' });
  disable = enableInstrumentations([fakeTarget('leash-fake-d', false)], [], framework.options);
  loadD('leash-fake-d');
  disable();
  assert.deepEqual(framework.refusals, []);
  assert.equal(framework.warnings.length, 1);
});

test('a version whose patched file is elsewhere, or that loads no patched file at all, is not passed as covered', () => {
  // In range, but lib/api.js is not there (as mysql2 before 3.11.5 has no lib/base/connection.js):
  // nothing leash patches would ever load.
  const moved = (name: string, version: string) => {
    const load = fakePackage(name, version);
    const main = load.resolve(name);
    writeFileSync(main, 'module.exports = { query() { return 1; } };');
    rmSync(join(dirname(main), 'lib'), { recursive: true });
    return load;
  };
  const enforce = options({ mode: 'enforce' });
  let disable = enableInstrumentations([fakeTarget('leash-fake-m', true)], [], enforce.options);
  moved('leash-fake-m', '2.1.0')('leash-fake-m');
  disable();
  assert.equal(enforce.refusals.length, 1);
  assert.equal(isLeashError(enforce.refusals[0], 'ERR_LEASH_UNPATCHED'), true);
  assert.match(
    enforce.refusals[0]!.message,
    /^leash-fake-m 2\.1\.0 has no lib\/api\.js, which leash patches/,
  );

  // Out of range, and the patched file never loads: named when the package's first file loads.
  const learn = options();
  disable = enableInstrumentations([fakeTarget('leash-fake-n', true)], [], learn.options);
  moved('leash-fake-n', '1.0.0')('leash-fake-n');
  disable();
  assert.deepEqual(learn.warnings, [
    'leash-fake-n 1.0.0 is not supported (>=2.0.0 <3): its queries would not be checked',
  ]);
});

test('a SQL driver leash does not cover is named when it loads: warned, or refused in enforce', () => {
  const load = fakePackage('mysql', '2.18.1');
  const learning = options();
  let disable = enableInstrumentations([], UNCOVERED_SQL_DRIVERS, learning.options);
  load('mysql');
  disable();
  assert.deepEqual(learning.warnings, [
    'mysql 2.18.1 is loaded but leash does not cover it: its statements are not checked by the sql module',
  ]);
  const enforcing = options({ mode: 'enforce' });
  disable = enableInstrumentations([], UNCOVERED_SQL_DRIVERS, enforcing.options);
  fakePackage('mysql', '2.18.1')('mysql');
  disable();
  assert.equal(enforcing.refusals.length, 1);
  assert.equal(enforcing.refusals[0]!.code, 'ERR_LEASH_UNPATCHED');
});

test('a target loaded before leash is named in a warning', () => {
  require('pg-pool');
  const { warnings, options: opts } = options();
  const pgPool = TARGETS.find((t) => t.package === 'pg-pool')!;
  enableInstrumentations([pgPool], [], opts)();
  assert.match(warnings[0] ?? '', /^pg-pool was loaded before leash and is not patched/);
});
