/**
 * @module
 * The version of a package being hooked, from the package.json in the directory
 * require-in-the-middle reports, read as leash's own I/O (not the service's).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { internal } from '../attribution/internal.ts';

/** The `version` of `<basedir>/package.json`, or undefined when it cannot be read. */
export function packageVersion(basedir: string | undefined): string | undefined {
  if (basedir === undefined) return undefined;
  try {
    const text = internal(() => readFileSync(join(basedir, 'package.json'), 'utf8'));
    return (JSON.parse(text) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Whether `<basedir>/<file>` (or `<file>.js`) exists, looked at as leash's own I/O. */
export function packageHasFile(basedir: string, file: string): boolean {
  return internal(() => existsSync(join(basedir, file)) || existsSync(join(basedir, `${file}.js`)));
}
