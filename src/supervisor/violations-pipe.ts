/**
 * @module
 * The supervisor's end of the violations pipe (src/agent/violations-pipe.ts): each line is a
 * violations document, validated like the file, then merged into the store under its lock. A line
 * that does not validate is reported and dropped: the service may write anything into the pipe,
 * and what arrives is only ever kept for review, never added to the policy.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { PolicyStore } from '../store/store.ts';
import { parseViolations } from '../store/violations-file.ts';

export function collectViolations(
  stream: Readable,
  store: PolicyStore,
  warn: (message: string) => void,
): Promise<void> {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on('line', (line) => {
    if (line.trim() === '') return;
    try {
      store.recordViolations(parseViolations(line, 'the violations pipe'));
    } catch (error) {
      warn(`dropped a violations record from the service: ${(error as Error).message}`);
    }
  });
  return new Promise((resolve) => lines.once('close', () => resolve()));
}
