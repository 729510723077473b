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

/**
 * Why the package in `basedir` is left unhooked, or undefined when its major version is the one
 * leash supports. Hooks support a closed range, as OpenTelemetry's instrumentations do: another
 * major may have moved what they patch. `consequence` says what then goes unchecked.
 */
export function unsupportedVersion(
  basedir: string | undefined,
  name: string,
  supportedMajor: number,
  consequence: string,
): string | undefined {
  const version = packageVersion(basedir);
  if (Number(version?.split('.')[0]) === supportedMajor) return undefined;
  return `${name} ${version ?? '(unknown version)'} is not supported (${supportedMajor}.x is): ${consequence}`;
}

/** The major version of the package in `basedir` when leash supports it, else why not. */
export function supportedMajor(
  basedir: string | undefined,
  name: string,
  majors: readonly number[],
  consequence: string,
): number | string {
  const version = packageVersion(basedir);
  const major = Number(version?.split('.')[0]);
  if (majors.includes(major)) return major;
  return `${name} ${version ?? '(unknown version)'} is not supported (${majors.map((m) => `${m}.x`).join(', ')} are): ${consequence}`;
}
