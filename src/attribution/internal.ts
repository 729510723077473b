/**
 * @module
 * Marks leash's own I/O (writing the policy, recording violations) so that observers and
 * enforcers ignore it: the agent's bookkeeping is not the service's privilege use. Synchronous
 * only, which is all the store does.
 */
import { calledFromLeash } from './caller.ts';

let depth = 0;

export function internal<T>(fn: () => T): T {
  // Called from the service's code (it can import this file by path), it switches nothing off.
  if (!calledFromLeash(internal)) return fn();
  depth++;
  try {
    return fn();
  } finally {
    depth--;
  }
}

export function isInternal(): boolean {
  return depth > 0;
}
