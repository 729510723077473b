/**
 * @module
 * leash as a user installs it, for the service benchmarks: the checkout's dist/ (built first with
 * `tsc -p tsconfig.build.json`, what `npm run build` runs), bin/, the launcher's source and build
 * (native/) and package.json in a directory
 * of their own, its dependencies linked from the checkout's node_modules. bin/leash.js runs
 * src/ when there is one, so in the checkout it would measure Node's TypeScript stripper and the
 * stripped sources (about 16 MiB of the service's memory at rest) instead of the compiled
 * package every installed service runs.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Builds dist/ and makes the copy at `<repo>/.leash-tmp/package`; returns its root. */
export function packageCopy(repo: string): string {
  execFileSync(
    process.execPath,
    [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  // Inside the checkout (.leash-tmp/ is ignored by git), so reports name it `./.leash-tmp/…`.
  const root = join(repo, '.leash-tmp', 'package');
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  for (const entry of ['bin', 'dist', 'package.json', join('native', 'leash-sandbox.c')])
    cpSync(join(repo, entry), join(root, entry), { recursive: true });
  // The launcher (kernel layer and thin waiter) as `npm install` builds it into the package:
  // without it the copy would run with neither, which no installed service on Linux does.
  const built = join(repo, 'native', 'build');
  if (existsSync(built)) cpSync(built, join(root, 'native', 'build'), { recursive: true });
  symlinkSync(realpathSync(join(repo, 'node_modules')), join(root, 'node_modules'), 'dir');
  return root;
}
