/**
 * @module
 * Loads the config and starts the agent for the preload; any failure stops the process before
 * the service runs (fail closed).
 */
import { loadConfig } from '../config/load.ts';
import { isLeashError } from '../errors.ts';
import { startAgentPrepared } from './agent.ts';

export async function start(): Promise<void> {
  try {
    await startAgentPrepared(await loadConfig());
  } catch (error) {
    const message = isLeashError(error) ? error.message : (error as Error).stack;
    process.stderr.write(`leash: not starting the service: ${message}\n`);
    process.exit(2);
  }
}
