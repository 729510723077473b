/**
 * @module
 * A loopback "CDN": another origin the service's pages load a script, a stylesheet (with a web
 * font) and images from, so the learned Content-Security-Policy has a third-party origin to allow.
 * It listens only on 127.0.0.2 (an origin of its own, unlike the service's 127.0.0.1); `PORT`
 * (default 4002) sets its port, 0 picks a free one. Prints `listening on http://127.0.0.2:<port>`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32, deflateSync } from 'node:zlib';
import { CDN_DEFAULT_PORT, CDN_HOST } from './config.ts';

/** A PNG of one colour: real image bytes without a binary file in the repository. */
export function solidPng(
  width: number,
  height: number,
  rgb: readonly [number, number, number],
): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, RGB, no interlace
  const row = Buffer.concat([Buffer.of(0), Buffer.from(Array(width).fill(rgb).flat())]);
  return Buffer.concat([
    Buffer.from('89504e470d0a1a0a', 'hex'),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(Buffer.concat(Array(height).fill(row)))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export const CDN_FILES: Readonly<Record<string, { type: string; body: Buffer | string }>> = {
  // Sets a global so a browser test can tell that the script ran.
  '/js/app.js': { type: 'text/javascript', body: 'window.cdnScriptRan = true;\n' },
  '/css/site.css': {
    type: 'text/css',
    body: '@font-face { font-family: cdnfont; src: url(/font/site.woff2) format("woff2"); }\nbody { font-family: cdnfont, sans-serif; }\n',
  },
  '/img/photo.png': { type: 'image/png', body: solidPng(1, 1, [102, 51, 153]) },
  '/img/banner.png': { type: 'image/png', body: solidPng(24, 4, [40, 120, 200]) },
  // Only the request matters to the policy (font-src); the browser drops the undecodable font
  // and falls back to the next family.
  '/font/site.woff2': { type: 'font/woff2', body: Buffer.from('not really a font') },
};

/** Answers one request: a file of CDN_FILES, readable from any origin, or 404. */
export function serveCdn(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const file = Object.hasOwn(CDN_FILES, path) ? CDN_FILES[path] : undefined;
  if (file === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  // Fonts are fetched in CORS mode: without this header the browser would refuse them.
  res.writeHead(200, { 'content-type': file.type, 'access-control-allow-origin': '*' });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}

export function createCdn(): Server {
  return createServer(serveCdn);
}

if (import.meta.main) {
  const server = createCdn();
  server.listen(Number(process.env.PORT ?? CDN_DEFAULT_PORT), CDN_HOST, () => {
    console.log(`listening on http://${CDN_HOST}:${(server.address() as AddressInfo).port}`);
  });
  process.once('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
}
