/**
 * @module
 * A fake "cloud metadata" service: the internal endpoint an SSRF goes after. It listens only on
 * 127.0.0.9 (a loopback address of its own, so tests can tell it apart from the partner API) and
 * hands out a fake credential at `/latest/meta-data/iam`. `PORT` (default 0 = any free port).
 * Prints `listening on http://127.0.0.9:<port>`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const METADATA_HOST = '127.0.0.9';

/** The fake secret; an attack that reads it has reached the metadata service. */
export const METADATA_SECRET = 'leash-demo-secret-0f3c9a7e';

export function createMetadata(): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/latest/meta-data/iam') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          AccessKeyId: 'AKIAFAKEFORLEASHDEMO',
          SecretAccessKey: METADATA_SECRET,
          Token: 'not-a-real-token',
        }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
}

if (import.meta.main) {
  const server = createMetadata();
  server.listen(Number(process.env.PORT ?? 0), METADATA_HOST, () => {
    console.log(`listening on http://${METADATA_HOST}:${(server.address() as AddressInfo).port}`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
}
