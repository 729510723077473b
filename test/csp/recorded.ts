// What leash wrote of the browser's reports: the policy's csp section while learning, the
// violations file while enforcing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../../examples/service/browser.ts';

export type CspSection = Record<string, Record<string, string[]>>;

/** The csp section of a policy file; empty while the file is not written yet. */
export function learnedCsp(policyFile: string): CspSection {
  if (!existsSync(policyFile)) return {};
  return (JSON.parse(readFileSync(policyFile, 'utf8')).csp ?? {}) as CspSection;
}

/**
 * Resolves once `leash.violations.json` in `dir`, or the spool the launcher fills while the
 * service runs (merged into the file when it ends), matches `pattern`.
 */
export async function recordedViolation(dir: string, pattern: RegExp): Promise<void> {
  const files = [join(dir, 'leash.violations.json'), join(dir, 'leash.violations.spool')];
  await waitUntil(`a violation matching ${pattern} in ${files.join(' or ')}`, () =>
    files.some((file) => existsSync(file) && pattern.test(readFileSync(file, 'utf8')))
      ? true
      : undefined,
  );
}
