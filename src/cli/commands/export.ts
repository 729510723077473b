/**
 * @module
 * `leash export node-flags | systemd | apparmor`: the runtime section of a policy compiled to
 * Node's permission flags, a systemd drop-in and an AppArmor profile (docs/exports.md).
 */
import { realpathSync } from 'node:fs';
import type { Command } from 'commander';
import type { Policy } from '../../core/policy.ts';
import { LeashError } from '../../errors.ts';
import { exportPolicies } from '../../modules/csp/header.ts';
import {
  checkProfileName,
  compileAppArmorProfile,
  DEFAULT_PROFILE_NAME,
} from '../../modules/runtime/exporters/apparmor.ts';
import { hasRuntimeRules, runtimeGrants } from '../../modules/runtime/exporters/grants.ts';
import { agentPaths, compileNodePermissions } from '../../modules/runtime/exporters/node-flags.ts';
import { compileSystemdDropIn } from '../../modules/runtime/exporters/systemd.ts';
import { type CliContext, cliContext, display, policyPath, readPolicyFile } from '../context.ts';

interface Globals {
  config?: string;
}

interface Loaded {
  readonly context: CliContext;
  readonly policy: Policy;
  /** The policy file as shown in messages and headers. */
  readonly source: string;
  readonly extra: { extraRead: string[]; extraWrite: string[] };
}

async function load(command: Command, file: string | undefined): Promise<Loaded> {
  const context = await cliContext(command.optsWithGlobals<Globals>());
  const path = policyPath(context, file);
  const source = display(context, path);
  const policy = readPolicyFile(context, source);
  if (!hasRuntimeRules(runtimeGrants(policy))) {
    throw new LeashError(
      'ERR_LEASH_USAGE',
      `${source}: no runtime rules to export; learn them first (leash learn -- node server.js)`,
      { file: source },
    );
  }
  const agent = agentPaths({ file: context.config.file, policyFile: path });
  return { context, policy, source, extra: { extraRead: agent.read, extraWrite: agent.write } };
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function registerExportCommands(program: Command): void {
  const group = program
    .command('export')
    .description(
      "compile the policy's runtime rules to Node's permission flags, systemd or AppArmor",
    );

  group
    .command('node-flags')
    .description("print Node's --permission flags for the whole process, one per line")
    .option('-p, --policy <file>', 'policy file (default: from config, else leash.policy.json)')
    .option('--json', 'print { "flags": [...], "nodeConfig": { "permission": {...} } } instead')
    .action(async (options: { policy?: string; json?: boolean }, command: Command) => {
      const { policy, extra } = await load(command, options.policy);
      const compiled = compileNodePermissions(policy, extra);
      for (const warning of compiled.warnings) process.stderr.write(`leash: warning: ${warning}\n`);
      if (options.json) {
        out(JSON.stringify({ flags: compiled.flags, nodeConfig: compiled.config }, null, 2));
        return;
      }
      if (compiled.flags.some((flag) => /[\r\n]/.test(flag))) {
        throw new LeashError('ERR_LEASH_USAGE', 'a granted path contains a line break; use --json');
      }
      out(compiled.flags.join('\n'));
    });

  group
    .command('systemd')
    .description("print a systemd drop-in ([Service] settings) for the service's unit")
    .option('-p, --policy <file>', 'policy file (default: from config, else leash.policy.json)')
    .action(async (options: { policy?: string }, command: Command) => {
      const { policy, source, extra } = await load(command, options.policy);
      out(compileSystemdDropIn(policy, { source, node: realpathSync(process.execPath), ...extra }));
    });

  group
    .command('apparmor')
    .description('print an AppArmor profile, leash-<name>')
    .option('-p, --policy <file>', 'policy file (default: from config, else leash.policy.json)')
    .option('-n, --name <name>', 'profile name after leash-', DEFAULT_PROFILE_NAME)
    .action(async (options: { policy?: string; name: string }, command: Command) => {
      checkProfileName(options.name);
      const { policy, source, extra } = await load(command, options.policy);
      out(compileAppArmorProfile(policy, { source, name: options.name, ...extra }));
    });

  group
    .command('csp')
    .description(
      'print the learned Content-Security-Policy of each page route, as a header to paste',
    )
    .option('-p, --policy <file>', 'policy file (default: from config, else leash.policy.json)')
    .action(async (options: { policy?: string }, command: Command) => {
      const context = await cliContext(command.optsWithGlobals<Globals>());
      const source = display(context, policyPath(context, options.policy));
      const tree = readPolicyFile(context, source).modules.get('csp');
      const policies = tree === undefined ? [] : exportPolicies(tree);
      if (policies.length === 0) {
        throw new LeashError(
          'ERR_LEASH_USAGE',
          `${source}: no csp rules to export; learn them first`,
          {
            file: source,
          },
        );
      }
      out(policies.map(({ route, header }) => `# ${route}\n${header}`).join('\n\n'));
    });
}
