/**
 * @module
 * The instrumentation layer, shaped like OpenTelemetry's `InstrumentationBase.enable()`: every
 * target's package on one require-in-the-middle hook (with internals, so a file such as
 * `express/lib/application.js` is seen even when the service imports the package from ESM); each
 * file is patched as it loads, only when the package's version is inside the file's closed range.
 * A file a package ships as an ES module (postgres.js's `src/`) is patched through the ESM hook
 * (esm.ts) the same way, in place (an ES module's exports cannot be replaced).
 *
 * One rule for what goes unpatched: a package outside its ranges, a target loaded before leash,
 * and a known package leash does not cover (a SQL driver such as `mysql`) get a one-line warning
 * while learning and reporting; in enforce mode, when enforcement depends on it, it is
 * `ERR_LEASH_UNPATCHED` (the agent stops the service with one line) unless the config lists the
 * package in `ignoreUnpatched`.
 */
import { createRequire } from 'node:module';
import { sep } from 'node:path';
import { Hook } from 'require-in-the-middle';
import satisfies from 'semver/functions/satisfies.js';
import { LeashError } from '../errors.ts';
import type { Mode } from '../module/module.ts';
import { hookEsm } from './esm.ts';
import { type Instrumentation, versionsOf } from './instrumentation.ts';
import { packageHasFile, packageVersion } from './package-version.ts';

/** A package leash knows of but does not patch: what its loading leaves unchecked. */
export interface UncoveredPackage {
  readonly package: string;
  readonly consequence: string;
  /** Enforcement depends on it (a SQL driver): refused at start in enforce mode. */
  readonly failClosed: boolean;
}

export interface EnableOptions {
  readonly mode: Mode;
  readonly warn: (message: string) => void;
  /** Packages the config allows to run unpatched in enforce mode. */
  readonly ignoreUnpatched?: readonly string[] | undefined;
  /** What to do with ERR_LEASH_UNPATCHED in enforce mode (the agent: one line, exit 2). */
  readonly refuse: (error: LeashError) => void;
}

/** `pkg` and the path inside it of a require-in-the-middle name (`express/lib/application.js`). */
function split(name: string, packages: readonly string[]): [string, string] | undefined {
  for (const pkg of packages) {
    if (name === pkg) return [pkg, ''];
    if (name.startsWith(pkg + sep))
      return [
        pkg,
        name
          .slice(pkg.length + 1)
          .split(sep)
          .join('/'),
      ];
  }
  return undefined;
}

/** A file as the target names it matches `lib/client` and `lib/client.js` alike. */
function sameFile(declared: string, loaded: string): boolean {
  return declared === loaded || `${declared}.js` === loaded || declared === `${loaded}.js`;
}

/** Package names found in `node_modules` paths of modules already loaded. */
function loadedPackages(): Set<string> {
  const out = new Set<string>();
  const cache = createRequire(import.meta.url).cache;
  for (const filename of Object.keys(cache)) {
    const parts = filename.split(`${sep}node_modules${sep}`);
    if (parts.length < 2) continue;
    const rest = parts[parts.length - 1]!.split(sep);
    out.add(rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!);
  }
  return out;
}

/** The one line for a version outside every range of its target. */
function notSupported(pkg: string, version: string | undefined, target: Instrumentation): string {
  return `${pkg} ${version ?? '(unknown version)'} is not supported (${versionsOf(target)}): ${target.consequence}`;
}

export function enableInstrumentations(
  targets: readonly Instrumentation[],
  uncovered: readonly UncoveredPackage[],
  options: EnableOptions,
): () => void {
  const restores: Array<() => void> = [];
  const reported = new Set<string>();
  const ignored = new Set(options.ignoreUnpatched ?? []);

  const unpatched = (pkg: string, failClosed: boolean, message: string): void => {
    if (reported.has(message)) return;
    reported.add(message);
    if (options.mode === 'enforce' && failClosed && !ignored.has(pkg)) {
      options.refuse(
        new LeashError(
          'ERR_LEASH_UNPATCHED',
          `${message} (list "${pkg}" in ignoreUnpatched in the config to run it unchecked)`,
        ),
      );
      return;
    }
    options.warn(message);
  };

  const early = loadedPackages();
  for (const target of targets) {
    if (early.has(target.package))
      unpatched(
        target.package,
        target.failClosed,
        `${target.package} was loaded before leash and is not patched: ${target.consequence}`,
      );
  }

  /**
   * The first file of a target's package to load says whether the files leash patches are there:
   * a version outside every range, or one whose patched file has moved, would otherwise load
   * nothing leash patches, and pass in silence for covered.
   */
  const checked = new Set<string>();
  const checkLayout = (
    target: Instrumentation,
    pkg: string,
    basedir: string,
    version: string | undefined,
  ): void => {
    const inRange =
      version === undefined
        ? []
        : target.files.filter((entry) => satisfies(version, entry.versions));
    const missing = inRange.filter(
      (entry) => !packageHasFile(basedir, entry.file || 'package.json'),
    );
    if (inRange.length === 0) unpatched(pkg, target.failClosed, notSupported(pkg, version, target));
    else if (missing.length > 0)
      unpatched(
        pkg,
        target.failClosed,
        `${pkg} ${version} has no ${missing.map((entry) => entry.file).join(', ')}, which leash patches (${versionsOf(target)}): ${target.consequence}`,
      );
  };

  const byName = new Map<string, Instrumentation | UncoveredPackage>();
  for (const target of [...targets, ...uncovered]) byName.set(target.package, target);
  // Longest first, so `pg-pool` is not read as a file of `pg`.
  const names = [...byName.keys()].sort((a, b) => b.length - a.length);
  /** Patches a file as it loads (when it is a target's, in range); the exports to use. */
  const onLoad = <T>(
    pkg: string,
    file: string,
    basedir: string | undefined,
    exports: T,
    esm: boolean,
  ): T => {
    const target = byName.get(pkg)!;
    const version = packageVersion(basedir);
    if (!('files' in target)) {
      unpatched(
        pkg,
        target.failClosed,
        `${pkg} ${version ?? ''} is loaded but leash does not cover it: ${target.consequence}`,
      );
      return exports;
    }
    if (basedir !== undefined && !checked.has(basedir)) {
      checked.add(basedir);
      checkLayout(target, pkg, basedir, version);
    }
    const patched = target.files.find((entry) => sameFile(entry.file, file));
    if (patched === undefined) return exports;
    if (version === undefined || !satisfies(version, patched.versions)) {
      unpatched(pkg, target.failClosed, notSupported(pkg, version, target));
      return exports;
    }
    const result = patched.patch(exports, version);
    if (typeof result === 'function') {
      restores.push(result);
      return exports;
    }
    if (esm) {
      result.restore();
      unpatched(
        pkg,
        target.failClosed,
        `${pkg} ${version} loaded as an ES module cannot be patched (${file} needs its exports replaced): ${target.consequence}`,
      );
      return exports;
    }
    restores.push(result.restore);
    return result.exports as T;
  };

  const hook = new Hook(names, { internals: true }, (exports, name, basedir) => {
    const found = split(name, names);
    if (found === undefined) return exports;
    return onLoad(found[0], found[1], basedir, exports, false);
  });
  const unhookEsm = hookEsm(
    targets.map((target) => target.package),
    (where) =>
      targets.some(
        (target) =>
          target.package === where.package &&
          target.files.some((entry) => sameFile(entry.file, where.file)),
      ),
    (namespace, where) => onLoad(where.package, where.file, where.basedir, namespace, true),
  );
  return () => {
    unhookEsm();
    hook.unhook();
    for (const restore of restores.splice(0).reverse()) restore();
  };
}
