/**
 * @module
 * What the service must never write under the kernel layer, because the supervisor reads it at
 * the next start: the policy and its violations, spool and lock files, the config, the CSP key, leash's
 * own code (and the node_modules it loads from) and the launcher binary. Landlock cannot carve an
 * exception out of a directory grant, so a write grant that covers one of them stops the start
 * with a message naming both; the fix is to narrow the rule or move the file.
 */
import { isAbsolute, relative } from 'node:path';
import { LeashError } from '../../errors.ts';

export interface ProtectedPath {
  readonly path: string;
  /** What it is, for the message: "the policy file", "leash's code". */
  readonly what: string;
}

/** Whether `outer` (a file or a directory grant) is `inner` or one of its ancestors. */
export function covers(outer: string, inner: string): boolean {
  const rel = relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Throws ERR_LEASH_KERNEL when a write grant reaches a protected path. */
export function assertUnwritable(
  writeGrants: readonly string[],
  protectedPaths: readonly ProtectedPath[],
): void {
  for (const grant of writeGrants) {
    for (const p of protectedPaths) {
      if (!covers(grant, p.path)) continue;
      throw new LeashError(
        'ERR_LEASH_KERNEL',
        `the policy lets the service write ${grant}, which holds ${p.what} (${p.path}): under the kernel layer the service may never write it. Narrow the fs.write rule, or move ${p.what} out of ${grant}`,
        { file: p.path },
      );
    }
  }
}
