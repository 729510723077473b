// What `npm pack` publishes: the compiled code, the bin, the docs and the licence, nothing of the
// tests or the sources; source maps that carry their sources; no install-time script that names a
// file the package does not have; and a bin that runs from the unpacked package. Needs the build
// (`npm test` builds first).
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../support/processes.ts';

const ROOT = realpathSync(fileURLToPath(new URL('../..', import.meta.url)));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  scripts: Record<string, string>;
};

// npm's own environment when the suite runs under `npm test`: none of it is meant for these.
const env = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')),
);

let files: Set<string>;
let dir: string;

before(async () => {
  assert.ok(
    existsSync(join(ROOT, 'dist', 'index.js')),
    'dist/ is missing: run `npm run build` first',
  );
  // --ignore-scripts: packing must not rebuild anything; what is checked is what is there.
  const packed = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    env,
  });
  assert.equal(packed.status, 0, packed.stderr);
  const [entry] = JSON.parse(packed.stdout) as [{ files: { path: string }[] }];
  files = new Set(entry.files.map((f) => f.path));
  dir = mkdtempSync(join(tmpdir(), 'leash-pack-'));
});

test('the package holds the bin, dist, docs, README and LICENSE, and no tests, sources or scripts', () => {
  for (const path of [
    'package.json',
    'README.md',
    'LICENSE',
    'bin/leash.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/register.js',
    'dist/cli/main.js',
    'docs/errors.md',
    'docs/policy-format.md',
  ]) {
    assert.ok(files.has(path), `${path} is not in the package`);
  }
  const unwanted = [...files].filter(
    (path) =>
      /\.test\.(ts|js|d\.ts)(\.map)?$/.test(path) ||
      /^(src|test|scripts|bench|examples|\.ci|node_modules)\//.test(path) ||
      path.endsWith('.ts') !== path.endsWith('.d.ts'),
  );
  assert.deepEqual(unwanted, []);
});

test('every bin and export target other than the checkout-only leash-source condition is packed', () => {
  for (const target of Object.values(pkg.bin)) {
    assert.ok(files.has(target.replace(/^\.\//, '')), `bin ${target}`);
  }
  for (const [subpath, conditions] of Object.entries(pkg.exports)) {
    const targets =
      typeof conditions === 'string'
        ? [conditions]
        : Object.entries(conditions)
            .filter(([condition]) => condition !== 'leash-source')
            .map(([, target]) => target);
    for (const target of targets) {
      assert.ok(files.has(target.replace(/^\.\//, '')), `exports["${subpath}"] → ${target}`);
    }
  }
});

test('every source map carries the source it points to, or points to a packed file', () => {
  const maps = [...files].filter((path) => path.endsWith('.map'));
  assert.ok(maps.length > 0, 'no source maps packed');
  const dangling: string[] = [];
  for (const map of maps) {
    const { sources, sourcesContent } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as {
      sources: string[];
      sourcesContent?: (string | null)[];
    };
    sources.forEach((source, i) => {
      const target = join(map, '..', source);
      if (typeof sourcesContent?.[i] !== 'string' && !files.has(target)) {
        dangling.push(`${map} → ${source}`);
      }
    });
  }
  assert.deepEqual(dangling, []);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('unpacked on its own, the package runs no script that needs an unpacked file, and its bin works', async () => {
  const packed = await run(
    'npm',
    ['pack', '--json', '--ignore-scripts', '--pack-destination', dir],
    { cwd: ROOT, env },
  );
  assert.equal(packed.status, 0, packed.stderr);
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  const untar = await run('tar', ['-xzf', join(dir, filename), '-C', dir]);
  assert.equal(untar.status, 0, untar.stderr);
  const unpacked = join(dir, 'package');

  // The lifecycle scripts npm may run where the package is installed (prepare runs for git and
  // directory installs) must not reach for the repository's scripts/ or src/.
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) {
    if (pkg.scripts[script] === undefined) continue;
    const result = await run('npm', ['run', script], { cwd: unpacked, env });
    assert.equal(result.status, 0, `${script}: ${result.stderr}`);
    assert.doesNotMatch(result.stderr, /Cannot find module|ENOENT/, script);
  }

  // The bin runs the compiled dist/ when there is no src/ (dependencies from this checkout).
  symlinkSync(join(ROOT, 'node_modules'), join(unpacked, 'node_modules'));
  const version = await run(process.execPath, [join(unpacked, 'bin', 'leash.js'), '--version'], {
    cwd: unpacked,
    env,
  });
  assert.equal(version.status, 0, version.stderr);
  assert.equal(version.stdout.trim(), pkg.version);
  assert.equal(existsSync(join(unpacked, 'src')), false);
});

test('a third-party module written against the published types only type-checks from the packed package', async () => {
  const unpacked = join(dir, 'package');
  assert.ok(existsSync(join(unpacked, 'dist', 'index.d.ts')), 'run after the unpacking test');
  // A consumer project: `leash` is the unpacked package, nothing else of this checkout but the
  // type packages (@types/node) its declarations name.
  const consumer = join(dir, 'consumer');
  mkdirSync(join(consumer, 'node_modules'), { recursive: true });
  symlinkSync(unpacked, join(consumer, 'node_modules', 'leash'));
  symlinkSync(join(ROOT, 'node_modules', '@types'), join(consumer, 'node_modules', '@types'));
  copyFileSync(join(ROOT, 'examples', 'mail-module', 'mail-module.ts'), join(consumer, 'mail.ts'));
  // What the built-in modules use besides defineModule: the request being served, its scope, and
  // a say in each request before the service sees it.
  writeFileSync(
    join(consumer, 'request.ts'),
    [
      "import { addRequestInterceptor, currentRequest, currentScope, type RequestState } from 'leash';",
      'const seen: string[] = [];',
      'export const stop: () => void = addRequestInterceptor((state: RequestState) => {',
      '  seen.push(state.scope);',
      '  return false;',
      '});',
      'export const scopeNow = (): string => currentRequest()?.scope ?? currentScope();',
      '',
    ].join('\n'),
  );
  writeFileSync(join(consumer, 'package.json'), '{ "type": "module", "private": true }\n');
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2024',
        types: ['node'],
        skipLibCheck: false,
      },
      files: ['mail.ts', 'request.ts'],
    }),
  );
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const checked = await run(tsc, ['-p', join(consumer, 'tsconfig.json')], { cwd: consumer, env });
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
});
