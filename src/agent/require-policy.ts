/**
 * @module
 * Enforce without a policy file would refuse everything the service does, starting with reading
 * its own code: fail closed, but at start, with one line that says what to do, instead of a
 * refusal deep inside the service.
 */
import { existsSync } from 'node:fs';
import type { ResolvedConfig } from '../config/load.ts';
import { LeashError } from '../errors.ts';
import type { ModuleRegistry } from '../module/module.ts';

export function requirePolicyForEnforce(config: ResolvedConfig, modules: ModuleRegistry): void {
  const enforced = [...modules.values()]
    .map((m) => m.name)
    .filter((name) => config.modeOf(name) === 'enforce');
  if (enforced.length === 0 || existsSync(config.policyFile)) return;
  throw new LeashError(
    'ERR_LEASH_POLICY_IO',
    `${config.policyFile}: no such policy file, and ${enforced.join(', ')} ${enforced.length > 1 ? 'are' : 'is'} in enforce mode, ` +
      'which would refuse everything; learn it first (`leash learn -- <command>`), or name the file with --policy or LEASH_POLICY',
    { file: config.policyFile },
  );
}
