/**
 * @module
 * The preload: `node --import leash/register server.js` (what `leash learn|report|enforce` put in
 * NODE_OPTIONS). Starts the agent before the service's own code runs; a configuration or policy
 * that cannot be read stops the process here, before the service does anything.
 */
import { startAgent } from './agent/agent.ts';
import { loadConfig } from './config/load.ts';
import { isLeashError } from './errors.ts';

try {
  startAgent(await loadConfig());
} catch (error) {
  const message = isLeashError(error) ? error.message : (error as Error).stack;
  process.stderr.write(`leash: not starting the service: ${message}\n`);
  process.exit(2);
}
