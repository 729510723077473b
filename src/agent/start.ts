/**
 * @module
 * Loads the config and starts the agent for the preload; any failure stops the process before
 * the service runs (fail closed).
 */
import { realpathSync } from 'node:fs';
import { loadConfig } from '../config/load.ts';
import { isLeashError } from '../errors.ts';
import { startAgentPrepared } from './agent.ts';
import { isLauncher } from './launchers.ts';

/** The real path of the main script, if there is one (none for `node -e`, the REPL, `--test`). */
function mainScript(): string | undefined {
  const script = process.argv[1];
  if (script === undefined || script === '') return undefined;
  try {
    return realpathSync(script);
  } catch {
    return script;
  }
}

export async function start(): Promise<void> {
  if (isLauncher(mainScript())) return;
  try {
    await startAgentPrepared(await loadConfig());
  } catch (error) {
    const message = isLeashError(error) ? error.message : (error as Error).stack;
    process.stderr.write(`leash: not starting the service: ${message}\n`);
    process.exit(2);
  }
}
