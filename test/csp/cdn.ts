// The loopback "CDN" of the csp tests: another origin, on 127.0.0.2.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

export const CDN_FILES: Readonly<Record<string, { type: string; body: Buffer | string }>> = {
  '/js/app.js': { type: 'text/javascript', body: 'window.cdnScriptRan = true;\n' },
  '/css/site.css': {
    type: 'text/css',
    body: '@font-face { font-family: cdnfont; src: url(/font/site.woff2) format("woff2"); }\nbody { font-family: cdnfont, sans-serif; }\n',
  },
  '/img/photo.png': { type: 'image/png', body: PNG },
  '/font/site.woff2': { type: 'font/woff2', body: Buffer.from('not really a font') },
};

export interface Cdn {
  readonly origin: string;
  /** Paths requested so far. */
  readonly requested: string[];
  close(): Promise<void>;
}

export async function startCdn(): Promise<Cdn> {
  const requested: string[] = [];
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    requested.push(path);
    const file = CDN_FILES[path];
    if (file === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'access-control-allow-origin': '*' });
    res.end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.2:${port}`,
    requested,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
