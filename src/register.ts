/**
 * @module
 * The preload: `node --import leash/register server.js` (what `leash learn|report|enforce` put in
 * NODE_OPTIONS). Starts the agent before the service's own code runs; a configuration or policy
 * that cannot be read stops the process here, before the service does anything. The version check
 * comes first and imports nothing, so an old Node gets one clear line.
 */
const REQUIRED_MAJOR = 26;
const major = Number(process.versions.node.split('.')[0]);
if (major < REQUIRED_MAJOR) {
  process.stderr.write(
    `leash: needs Node.js ${REQUIRED_MAJOR} or newer; this is Node.js ${process.versions.node}\n`,
  );
  process.exit(2);
}
const { start } = await import('./agent/start.ts');
await start();
