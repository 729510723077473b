/**
 * @module
 * The service started in the test's own process: the real app (createApp) on a fresh SQLite
 * database in a temporary DATA_DIR, listening on a free loopback port, and a small HTTP client
 * that keeps one session's cookie (one client is one logged-in user).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { openStore } from '../db.ts';
import { passwordOf } from '../users.ts';

export interface TestApp {
  /** `http://127.0.0.1:<port>` */
  readonly base: string;
  /** A client with no session yet. */
  client(): Client;
  /** A client logged in as a seeded user. */
  login(user: string): Promise<Client>;
  close(): Promise<void>;
}

export interface Reply {
  readonly status: number;
  readonly type: string;
  readonly text: string;
  /** The body parsed as JSON (throws when it is not JSON). */
  json<T = unknown>(): T;
}

export interface Client {
  request(
    method: string,
    path: string,
    body?: { json: unknown } | { raw: string | Uint8Array },
  ): Promise<Reply>;
}

export async function startApp(): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'notes-test-'));
  // An explicit environment: nothing from the developer's shell (DATABASE_URL, PORT) leaks in.
  const config = loadConfig({ DATA_DIR: dataDir, SESSION_SECRET: 'test-secret' });
  mkdirSync(config.uploadsDir, { recursive: true });
  const store = await openStore(config);
  const server = createServer(createApp(config, store));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  const client = (): Client => {
    let cookie: string | undefined;
    return {
      async request(method, path, body) {
        const headers: Record<string, string> = {};
        if (cookie !== undefined) headers.cookie = cookie;
        let payload: string | Uint8Array | undefined;
        if (body !== undefined && 'json' in body) {
          headers['content-type'] = 'application/json';
          payload = JSON.stringify(body.json);
        } else if (body !== undefined) {
          headers['content-type'] = 'application/octet-stream';
          payload = body.raw;
        }
        const res = await fetch(base + path, {
          method,
          headers,
          redirect: 'manual',
          ...(payload === undefined ? {} : { body: payload }),
        });
        const set = res.headers.getSetCookie().find((c) => c.startsWith('sid='));
        if (set !== undefined) cookie = set.split(';')[0];
        const text = await res.text();
        return {
          status: res.status,
          type: res.headers.get('content-type') ?? '',
          text,
          json: <T>() => JSON.parse(text) as T,
        };
      },
    };
  };

  return {
    base,
    client,
    async login(user) {
      const c = client();
      const res = await c.request('POST', '/login', { json: { user, password: passwordOf(user) } });
      if (res.status !== 200) throw new Error(`login as ${user}: ${res.status} ${res.text}`);
      return c;
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
