/**
 * @module
 * Violations travel to the `leash` process instead of into a file: when `leash report|enforce`
 * starts the service it passes a pipe (LEASH_VIOLATIONS_FD), and the supervisor, outside the
 * sandbox, merges what arrives into `leash.violations.json`. So the service needs no write access
 * next to its policy, and nothing it writes is ever read back as policy (the supervisor only
 * records what comes through the pipe for review). One JSON line per flush. The policy itself is
 * never written from here.
 */
import { fstatSync, writeSync } from 'node:fs';
import type { PolicyStore } from '../store/store.ts';
import { VIOLATIONS_VERSION } from '../store/violations-file.ts';

export const VIOLATIONS_FD_ENV = 'LEASH_VIOLATIONS_FD';

/**
 * The pipe's descriptor, taken out of the environment so that the service's own children (which
 * do not have it open) do not write to whatever their descriptor of that number is.
 */
export function takeViolationsFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env[VIOLATIONS_FD_ENV];
  if (text === undefined) return undefined;
  delete env[VIOLATIONS_FD_ENV];
  const fd = Number(text);
  if (!Number.isInteger(fd) || fd < 3) return undefined;
  try {
    // Node's spawn makes its 'pipe' a socket pair; a shell would make a FIFO.
    const stat = fstatSync(fd);
    return stat.isFIFO() || stat.isSocket() ? fd : undefined;
  } catch {
    return undefined;
  }
}

/** The store, recording violations into the pipe; everything else unchanged. */
export function pipedViolations(store: PolicyStore, fd: number): PolicyStore {
  return {
    location: store.location,
    load: () => store.load(),
    // Report and enforce learn nothing, and the policy belongs to the supervisor: the learner's
    // flush gets the result without anything being written (or the policy's lock being taken).
    update: (change) => change(store.load()),
    loadViolations: () => store.loadViolations(),
    recordViolations(records) {
      if (records.length === 0) return;
      const line = `${JSON.stringify({ version: VIOLATIONS_VERSION, violations: records })}\n`;
      const bytes = Buffer.from(line, 'utf8');
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
    },
    updateViolations: (change) => store.updateViolations(change),
  };
}
