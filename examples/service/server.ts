/**
 * @module
 * Entry point: `node examples/service/server.ts`. Reads the configuration from the environment
 * (PORT, DATA_DIR, PARTNER_URL, CDN_ORIGIN, METADATA_URL, SESSION_SECRET, DATABASE_URL), opens the
 * database (PostgreSQL when DATABASE_URL is set, else SQLite in DATA_DIR), listens on 127.0.0.1
 * and prints `listening on http://127.0.0.1:<port>` once ready.
 */
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { openStore } from './db.ts';

const config = loadConfig(process.env);
mkdirSync(config.uploadsDir, { recursive: true });
const store = await openStore(config);
const server = createServer(createApp(config, store));

server.listen(config.port, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening on http://127.0.0.1:${port}`);
});

function shutdown(): void {
  server.close(() => {
    store.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  server.closeAllConnections();
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
