/**
 * @module
 * Directories this process made with `mkdtemp`: their names are the prefix it gave and six random
 * characters, new each run. A path in one is learned with those six characters as a wildcard
 * (`<tmp>/notes-test-Ab3xYz/notes.db` → `<tmp>/notes-test-*\/notes.db`), so that the next run of
 * the same code (a test suite under `leash ci`) is granted what the last one was. Only prefixes
 * this process asked for count: a directory someone else made keeps its name.
 */

const prefixes = new Set<string>();

/** Bounded: a process that makes temp directories with ever-new prefixes keeps the first ones. */
const MAX_PREFIXES = 1000;

/** Called by the fs wrappers with the absolute prefix of each mkdtemp call. */
export function noteMkdtempPrefix(prefix: string): void {
  if (prefixes.size < MAX_PREFIXES) prefixes.add(prefix);
}

const escapeGlob = (path: string): string => path.replace(/[\\*?[\]{}]/g, '\\$&');

/** `path` as a glob with the random part of a directory this process mkdtemp'd; else undefined. */
export function temporaryGlob(path: string): string | undefined {
  for (const prefix of prefixes) {
    if (!path.startsWith(prefix)) continue;
    const random = path.slice(prefix.length, prefix.length + 6);
    const after = path.slice(prefix.length + 6);
    if (/^[A-Za-z0-9]{6}$/.test(random) && (after === '' || after.startsWith('/')))
      return `${escapeGlob(prefix)}*${escapeGlob(after)}`;
  }
  return undefined;
}

/** For tests: forget every prefix. */
export function forgetMkdtempPrefixes(): void {
  prefixes.clear();
}
