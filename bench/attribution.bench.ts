/**
 * @module
 * Package attribution: which npm package's code is on the stack. The call comes from a function
 * of a package installed under a temporary `node_modules/` (`fake-orm`), 12 frames deep, as a
 * driver call would.
 *
 * - `cached`: the process-wide resolver, whose file → package map is warm (every call after the
 *   first in a service);
 * - `cached, read from below`: the same, told which function the package called (a wrapped fs
 *   function tells it), so the stack is read from right below that function;
 * - `uncached`: a fresh resolver per call, so every frame's file is classified again;
 * - `packageOfPath`: the path → package mapping alone, for one file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPackageResolver, packageOfPath } from '../src/attribution/package-of.ts';
import { emit, isQuick, keep, type MicroCase, microOptions, runMicro } from './lib/micro.ts';

const BATCH = 100;
const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = join(dirname(HERE), 'src');

/** A package in a temporary node_modules whose `call(fn)` calls fn 12 frames down. */
function fakePackage(): { call: (fn: () => void) => void; file: string; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'leash-bench-attr-'));
  const dir = join(root, 'node_modules', 'fake-orm');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"name":"fake-orm","main":"index.js"}');
  const file = join(dir, 'index.js');
  writeFileSync(
    file,
    `function deep(n, fn) { if (n === 0) return fn(); return deep(n - 1, fn) || 0; }
exports.call = function call(fn) { return deep(12, fn); };
`,
  );
  const require = createRequire(join(root, 'index.js'));
  return { call: (require(file) as { call: (fn: () => void) => void }).call, file, root };
}

export async function attributionBench(quick: boolean) {
  const pkg = fakePackage();
  // Leash's own sources and this benchmark's frames are skipped, as the agent skips its own.
  const selfDirs = [SRC, HERE];
  const shared = createPackageResolver({ selfDirs });
  let seen = '';
  pkg.call(() => {
    seen = shared.current();
  });
  if (seen !== 'fake-orm') throw new Error(`attributed to ${seen}, expected fake-orm`);
  // A wrapped fs function hands attribution itself: the stack is read from right below it.
  const wrapper = (): void => {
    for (let i = 0; i < BATCH; i++) keep(shared.caller(wrapper).package);
  };
  let below = '';
  const probe = (): void => {
    below = shared.caller(probe).package;
  };
  pkg.call(probe);
  if (below !== 'fake-orm') throw new Error(`attributed to ${below}, expected fake-orm`);
  const cases: MicroCase[] = [
    {
      group: 'attribution',
      name: 'cached (warm file → package map)',
      batch: BATCH,
      target: 'attribution-cached',
      fn: () =>
        pkg.call(() => {
          for (let i = 0; i < BATCH; i++) keep(shared.current());
        }),
    },
    {
      group: 'attribution',
      name: 'cached, read from below the function the package called (as the fs wrappers ask)',
      batch: BATCH,
      fn: () => pkg.call(wrapper),
    },
    {
      group: 'attribution',
      name: 'uncached (fresh resolver per call)',
      batch: BATCH,
      fn: () =>
        pkg.call(() => {
          for (let i = 0; i < BATCH; i++) keep(createPackageResolver({ selfDirs }).current());
        }),
    },
    {
      group: 'attribution',
      name: 'packageOfPath (one path, no stack)',
      batch: 1000,
      fn: () => {
        for (let i = 0; i < 1000; i++) keep(packageOfPath(pkg.file));
      },
    },
  ];
  const micro = await runMicro(cases, microOptions(quick));
  rmSync(pkg.root, { recursive: true, force: true });
  return { micro, growth: [], notes: [] };
}

if (import.meta.main) emit(await attributionBench(isQuick()));
