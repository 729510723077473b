/**
 * @module
 * Whether and how `leash enforce` runs the service under the kernel layer: asks the launcher what
 * the kernel supports, compiles the policy to its rules (with what leash's agent reads inside the
 * service) and refuses a policy that would let the service write what the supervisor reads at the
 * next start.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Policy } from '../../core/policy.ts';
import { LeashError } from '../../errors.ts';
import { KEY_FILE } from '../../modules/csp/tag.ts';
import { codeDirs } from '../../modules/runtime/exporters/node-flags.ts';
import { lockPath, spoolPath, statusPath, violationsPath } from '../../store/file-store.ts';
import { helperDirs, type KernelSupport, kernelSupport } from './helper.ts';
import { assertUnwritable, type ProtectedPath } from './protected.ts';
import { compileKernelRules, type KernelRules, launcherArguments } from './rules.ts';

export interface KernelPlanOptions {
  readonly policy: Policy;
  readonly policyFile: string;
  readonly configFile: string | undefined;
  readonly command: readonly string[];
  /** The service's environment (PATH, and LEASH_KERNEL_ABI_MAX in tests). */
  readonly env: NodeJS.ProcessEnv;
}

export type KernelPlan =
  | {
      readonly available: true;
      readonly support: KernelSupport;
      readonly rules: KernelRules;
      /** The launcher and its arguments; append nothing: the service's command is included. */
      readonly command: readonly string[];
    }
  | { readonly available: false; readonly reason: string };

export function protectedPaths(options: {
  readonly policyFile: string;
  readonly configFile: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}): ProtectedPath[] {
  const { policyFile, configFile } = options;
  const out: ProtectedPath[] = [
    { path: policyFile, what: 'the policy file' },
    { path: violationsPath(policyFile), what: 'the violations file' },
    { path: spoolPath(policyFile), what: 'the violations spool' },
    { path: lockPath(policyFile), what: "the policy's lock file" },
    { path: statusPath(policyFile), what: "--isolate's status file" },
    { path: join(dirname(policyFile), KEY_FILE), what: 'the CSP key file' },
  ];
  if (configFile !== undefined) out.push({ path: configFile, what: 'the config file' });
  for (const dir of codeDirs()) out.push({ path: dir, what: "leash's code" });
  for (const dir of helperDirs(options.env)) out.push({ path: dir, what: 'the sandbox launcher' });
  return out;
}

/** What leash's agent reads inside the service: its code, the policy, the config, the CSP key. */
function agentReads(policyFile: string, configFile: string | undefined): string[] {
  const keyFile = join(dirname(policyFile), KEY_FILE);
  const out = [policyFile, ...codeDirs()];
  if (configFile !== undefined) out.push(configFile);
  if (existsSync(keyFile)) out.push(keyFile);
  return out;
}

/**
 * The kernel rules of a service process under `policy` (the whole policy for `leash enforce`, a
 * group's share under `--isolate`): what the agent reads added, a missing data directory made
 * first, and refused when a write grant reaches what the supervisor reads at the next start.
 */
export function serviceKernelRules(
  policy: Policy,
  options: Omit<KernelPlanOptions, 'policy'>,
): KernelRules {
  let rules: KernelRules;
  try {
    rules = compileKernelRules(policy, {
      command: options.command,
      searchPath: options.env.PATH ?? '',
      extraRead: agentReads(options.policyFile, options.configFile),
      // A fresh copy of the service has not made its data directory yet.
      createWriteDirs: true,
    });
  } catch (error) {
    throw new LeashError('ERR_LEASH_KERNEL', (error as Error).message);
  }
  assertUnwritable(rules.write, protectedPaths(options));
  return rules;
}

export function planKernel(options: KernelPlanOptions): KernelPlan {
  const support = kernelSupport(options.env);
  if (support.helper === undefined || support.problem !== undefined)
    return { available: false, reason: support.problem ?? 'no launcher' };
  const rules = serviceKernelRules(options.policy, options);
  return {
    available: true,
    support,
    rules,
    command: [support.helper, ...launcherArguments(rules), rules.executable, ...options.command],
  };
}
