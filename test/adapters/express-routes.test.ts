// Express route templates in process, on real Express 4 and 5 apps behind a real server: mount
// paths with parameters (Express 4's are rebuilt from the layer's own regexp), nested routers, a
// sub-app, array and regexp paths, methods, and static mounts at the root and under a prefix.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { expressInstrumentation } from '../../src/adapters/express/instrument.ts';
import { installHttpAdapter } from '../../src/adapters/node-http/adapter.ts';
import { currentScope } from '../../src/attribution/scope.ts';
import { enableInstrumentations } from '../../src/instrument/enable.ts';
import { aliasedEntry } from '../support/aliases.ts';

type Express = ((...args: never[]) => unknown) & {
  Router(): Record<string, (...args: unknown[]) => unknown>;
  static(root: string): unknown;
};

let uninstall: () => void;
before(() => {
  const disable = enableInstrumentations([expressInstrumentation], [], {
    mode: 'learn',
    warn: () => {},
    refuse: () => {},
  });
  const http = installHttpAdapter();
  uninstall = () => {
    http();
    disable();
  };
});
after(() => uninstall());

/** An app whose every handler answers with the scope it runs in. */
function buildApp(express: Express, assets: string, express4: boolean) {
  const scope = (_req: unknown, res: { send(body: string): void }) => res.send(currentScope());
  const app = express() as unknown as Record<string, (...args: unknown[]) => unknown>;
  const items = express.Router();
  items.get!('/:item', scope);
  const users = express.Router();
  users.use!('/:user/items', items);
  users.post!('/:user', scope);
  app.use!('/users', users);
  app.get!(['/a', '/b/:x'], scope);
  app.get!(/^\/re\/\d+$/, scope);
  // Express 4's path-to-regexp takes `|` as an alternation (Express 5's has no such syntax).
  if (express4) app.post!('/users|register|signup', scope);
  const admin = express() as unknown as Record<string, (...args: unknown[]) => unknown>;
  admin.get!('/stats/:day', scope);
  app.use!('/admin', admin);
  app.use!('/static', express.static(assets));
  app.use!((_req: unknown, res: { status(code: number): { send(body: string): void } }) =>
    res.status(404).send(currentScope()),
  );
  return app;
}

async function serve(app: unknown): Promise<{ base: string; server: http.Server }> {
  const { createServer } = await import('node:http');
  const server = createServer(app as http.RequestListener);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const EXPECTED: Array<[string, string, string]> = [
  ['GET', '/users/7/items/42', 'GET /users/:user/items/:item'],
  ['POST', '/users/7', 'POST /users/:user'],
  ['GET', '/a', 'GET /a'],
  ['GET', '/b/9', 'GET /b/:x'],
  ['GET', '/admin/stats/monday', 'GET /admin/stats/:day'],
  ['GET', '/static/logo.txt', 'GET /static/*'],
  ['GET', '/nothing/here', '@unmatched'],
  ['POST', '/static/logo.txt', '@unmatched'],
];

for (const [name, load] of [
  ['Express 5', () => createRequire(import.meta.url)('express')],
  ['Express 4', () => createRequire(aliasedEntry('express4', 'express', 'index.js'))('./index.js')],
] as const) {
  test(`${name}: route templates of nested routers, sub-apps, arrays and static mounts`, async () => {
    const assets = mkdtempSync(join(tmpdir(), 'leash-assets-'));
    writeFileSync(join(assets, 'logo.txt'), 'logo');
    const express = load() as Express;
    const { base, server } = await serve(buildApp(express, assets, name === 'Express 4'));
    try {
      for (const [method, path, scope] of EXPECTED) {
        const response = await fetch(base + path, { method });
        const body = await response.text();
        if (path === '/static/logo.txt' && method === 'GET') assert.equal(body, 'logo');
        else assert.equal(body, scope, `${method} ${path}`);
      }
      const regexp = await (await fetch(`${base}/re/5`)).text();
      assert.match(regexp, /^GET \/.*re/, 'a regexp route keeps its pattern');
      if (name === 'Express 4') {
        // json-server-auth's register route: path-to-regexp 0.1 leaves a top-level `|`
        // unanchored, and Express 4 runs the route for `/register` on a match that starts after
        // its slash. The scope is still the path as requested, a route as isolate groups them.
        for (const path of ['/users', '/register', '/signup']) {
          const answer = await fetch(base + path, { method: 'POST' });
          assert.equal(await answer.text(), `POST ${path}`, path);
        }
      }
    } finally {
      server.close();
    }
  });
}
