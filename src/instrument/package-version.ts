/**
 * @module
 * The version of a package being hooked, from the package.json in the directory
 * require-in-the-middle reports, read as leash's own I/O (not the service's).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { internal } from '../attribution/internal.ts';

export function packageVersion(basedir: string | undefined): string | undefined {
  if (basedir === undefined) return undefined;
  try {
    const text = internal(() => readFileSync(join(basedir, 'package.json'), 'utf8'));
    return (JSON.parse(text) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The major version number, or NaN when unknown. */
export function majorOf(version: string | undefined): number {
  return Number(version?.split('.')[0]);
}
