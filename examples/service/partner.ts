/**
 * @module
 * The "partner API" the service calls on purpose: `GET /forecast?city=` answers a made-up,
 * deterministic forecast. A plain node:http server on 127.0.0.1; `PORT` (default 4001) sets its
 * port, 0 picks a free one. Prints `listening on http://127.0.0.1:<port>`.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PARTNER_DEFAULT_PORT } from './config.ts';

const SKIES = ['sunny', 'cloudy', 'rain', 'snow', 'windy'] as const;

export function forecast(city: string): { city: string; sky: string; temperatureC: number } {
  const digest = createHash('sha256').update(city.toLowerCase()).digest();
  return {
    city,
    sky: SKIES[(digest[0] ?? 0) % SKIES.length] ?? 'sunny',
    temperatureC: ((digest[1] ?? 0) % 40) - 5,
  };
}

export function createPartner(): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://partner.invalid');
    const city = url.searchParams.get('city');
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== '/forecast') send(404, { error: 'not found' });
    else if (!city) send(400, { error: '?city= is required' });
    else send(200, forecast(city));
  });
}

if (import.meta.main) {
  const server = createPartner();
  server.listen(Number(process.env.PORT ?? PARTNER_DEFAULT_PORT), '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
}
