/**
 * @module
 * Directories this process made with `mkdtemp`: their names are the prefix it gave and six random
 * characters, new each run. A path in one is learned with those six characters as a wildcard
 * (`<tmp>/notes-test-Ab3xYz/notes.db` → `<tmp>/notes-test-*\/notes.db`), so that the next run of
 * the same code (a test suite under `leash ci`) is granted what the last one was. Only prefixes
 * this process asked for count: a directory someone else made keeps its name.
 */

import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { escapePath } from '../../core/kinds/glob.ts';

const prefixes = new Set<string>();

/** Bounded: a process that makes temp directories with ever-new prefixes keeps the first ones. */
const MAX_PREFIXES = 1000;

/** The temp directory, as paths under it are spelled (symlinks resolved). */
const TMP = (() => {
  try {
    return realpathSync(tmpdir());
  } catch {
    return tmpdir();
  }
})();

/**
 * Called by the fs wrappers with the absolute prefix of each mkdtemp call. Only prefixes in the
 * temp directory count: code that asks for `mkdtemp('/')` does not get `/*` learned.
 */
export function noteMkdtempPrefix(prefix: string): void {
  if (prefixes.size >= MAX_PREFIXES || !prefix.startsWith(`${TMP}/`)) return;
  // The prefix's own directory must be the temp directory or below it, never a wildcard above.
  if (prefix.slice(TMP.length + 1).length === 0) return;
  prefixes.add(prefix);
}

/** `path` as a glob with the random part of a directory this process mkdtemp'd; else undefined. */
export function temporaryGlob(path: string): string | undefined {
  for (const prefix of prefixes) {
    if (!path.startsWith(prefix)) continue;
    const random = path.slice(prefix.length, prefix.length + 6);
    const after = path.slice(prefix.length + 6);
    if (/^[A-Za-z0-9]{6}$/.test(random) && (after === '' || after.startsWith('/')))
      return `${escapePath(prefix)}*${escapePath(after)}`;
  }
  return undefined;
}

/** For tests: forget every prefix. */
export function forgetMkdtempPrefixes(): void {
  prefixes.clear();
}
