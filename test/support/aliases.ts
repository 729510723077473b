/**
 * @module
 * Packages installed under npm aliases (`express4`, `pg-lowest`) laid out under their real names.
 * leash recognises a target by the `node_modules/<name>` directory a module is loaded from (as
 * require-in-the-middle reports it, and as a real service installs it), so a package loaded from
 * `node_modules/pg-lowest` is, rightly, not `pg`. A test therefore copies the aliased package to
 * `node_modules/<name>` in a fresh directory under this repository's node_modules/leash-aliases
 * (not a dot directory: learned loader rules fold into `node_modules/**`, which matches no dot
 * segment): its dependencies resolve from the copy's own node_modules, then, walking up, from
 * this repository's, as they would in a service that installed that version.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MODULES = join(ROOT, 'node_modules');

const layouts = new Map<string, string>();

/**
 * A fresh `node_modules` holding, for each `[path, installed]` in order, the package installed as
 * `node_modules/<installed>` copied to `<path>` (`pg`, `@hapi/hapi`, or a nested dependency such
 * as `fastify/node_modules/find-my-way` to replace the one a copied package brought). Made once
 * per process and removed when it exits; returns the directory.
 */
export function aliasedLayout(packages: ReadonlyArray<readonly [string, string]>): string {
  const key = JSON.stringify(packages);
  let modules = layouts.get(key);
  if (modules === undefined) {
    const cache = join(MODULES, 'leash-aliases');
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(join(cache, `leash-${packages[0]![1].replace('/', '+')}-`));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    modules = join(dir, 'node_modules');
    for (const [path, installed] of packages) {
      const target = join(modules, path);
      rmSync(target, { recursive: true, force: true });
      cpSync(join(MODULES, installed), target, { recursive: true });
    }
    layouts.set(key, modules);
  }
  return modules;
}

/** The entry of the package installed as `alias`, laid out as `node_modules/<name>` (once). */
export function aliasedEntry(alias: string, name: string, main: string): string {
  return join(aliasedLayout([[name, alias]]), name, main);
}

/** What `require(name)` resolves to from a layout's `node_modules` (the package's CJS entry). */
export function resolveIn(modules: string, name: string): string {
  return createRequire(join(modules, 'index.js')).resolve(name);
}
