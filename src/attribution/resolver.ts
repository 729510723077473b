/**
 * @module
 * The process-wide package resolver: leash's own files (this package's directory) are skipped.
 */
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPackageResolver, type PackageResolver } from './package-of.ts';

// src/attribution/ or dist/attribution/ → the package root's src/ or dist/.
const selfDir = dirname(dirname(fileURLToPath(import.meta.url)));
let shared: PackageResolver | undefined;

export function packageResolver(): PackageResolver {
  shared ??= createPackageResolver({ selfDirs: [selfDir] });
  return shared;
}

export function leashSourceDir(): string {
  return selfDir;
}
