/**
 * @module
 * A short id for a recorded violation, so a reviewer can approve one entry and not another logged
 * under the same route (a legitimate new file next to a traversal attempt). Derived from what the
 * violation is (module, facts, mode), not from its place in the list: new violations arriving
 * between `review` and `review --approve --id …` cannot shift an id onto another entry.
 */
import { createHash } from 'node:crypto';
import { violationKey } from '../store/violations-file.ts';

export const ID_LENGTH = 10;

export function violationId(v: {
  readonly module: string;
  readonly facts: readonly string[];
  readonly mode: string;
}): string {
  return createHash('sha256')
    .update(violationKey(v.module, v.facts, v.mode))
    .digest('hex')
    .slice(0, ID_LENGTH);
}
