/**
 * @module
 * What every command needs: the resolved config, the module registry and policy file access.
 */
import { readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { loadConfig, type ResolvedConfig } from '../config/load.ts';
import type { Policy } from '../core/policy.ts';
import { LeashError } from '../errors.ts';
import type { ModuleRegistry } from '../module/module.ts';
import { registryWith } from '../modules/builtin.ts';
import { type Locality, localityFor } from '../store/locality.ts';
import { parsePolicy } from '../store/policy-file.ts';

export interface CliContext {
  readonly config: ResolvedConfig;
  readonly modules: ModuleRegistry;
  readonly cwd: string;
  /** This machine's roots and environment, for the policy's `{app}`, `{env:PORT}`… */
  readonly locality: Locality;
}

export interface GlobalOptions {
  readonly config?: string;
}

export async function cliContext(options: GlobalOptions = {}): Promise<CliContext> {
  const cwd = process.cwd();
  const env =
    options.config === undefined ? process.env : { ...process.env, LEASH_CONFIG: options.config };
  const config = await loadConfig({ cwd, env });
  const locality = localityFor(config, { tmp: tmpdir(), home: homedir(), env: process.env });
  return { config, modules: registryWith(config.modules), cwd, locality };
}

/** Reads and validates a policy file; a missing file is an error here (the CLI names files). */
export function readPolicyFile(context: CliContext, file: string): Policy {
  const path = resolve(context.cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : (error as Error).message;
    throw new LeashError(
      'ERR_LEASH_POLICY_IO',
      `${display(context, path)}: cannot read policy: ${reason}`,
      { file: path },
    );
  }
  return parsePolicy(text, {
    file: display(context, path),
    modules: context.modules,
    locality: context.locality,
  });
}

export function policyPath(context: CliContext, explicit: string | undefined): string {
  return explicit === undefined ? context.config.policyFile : resolve(context.cwd, explicit);
}

/** A path shown relative to the working directory when it is inside it. */
export function display(context: CliContext, file: string): string {
  return file.startsWith(`${context.cwd}/`) ? file.slice(context.cwd.length + 1) : file;
}
