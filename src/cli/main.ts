/**
 * @module
 * The `leash` command line. Every failure is one line on stderr and a non-zero exit: 2 for bad
 * input (policy, config, usage), 1 for a finding (a diff that grants more, lint warnings).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isLeashError } from '../errors.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerExportCommands } from './commands/export.ts';
import { registerStatusCommand } from './commands/isolate.ts';
import { registerPolicyCommands } from './commands/policy.ts';
import { registerRunCommands } from './commands/run.ts';

const { version } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command('leash')
    .description(
      'learn what a Node.js service needs, write it down as a policy, refuse everything else',
    )
    .version(version, '-v, --version')
    .option(
      '-c, --config <file>',
      'config file (default: leash.config.{js,mjs,json} in the working directory)',
    )
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      outputError: (text, write) => write(text.startsWith('error:') ? `leash: ${text}` : text),
    });
  registerRunCommands(program);
  registerPolicyCommands(program);
  registerExportCommands(program);
  registerDoctorCommand(program);
  registerStatusCommand(program);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    process.exitCode = exitCodeOf(error);
  }
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // Help and version are exits with code 0; commander has already printed its message.
    return error.exitCode === 0 ? 0 : 2;
  }
  if (isLeashError(error)) {
    process.stderr.write(`leash: ${error.message}\n`);
    return 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`leash: unexpected error: ${message}\n`);
  if (process.env.LEASH_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
  return 70;
}
