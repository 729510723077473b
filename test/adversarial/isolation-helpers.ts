// Shared by the isolation suites: a workspace for the example service whose app directory holds
// the config and a compromised dependency (fixtures/route-rce.mjs), the data outside it, and how
// to log in and run attacker code in a chosen route's worker.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, type RunningExample, startExample } from '../../examples/service/start.ts';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const SERVICE_DIR = fileURLToPath(new URL('../../examples/service/', import.meta.url));
const RCE = fileURLToPath(new URL('./fixtures/route-rce.mjs', import.meta.url));
const SECRET = 'isolation-test-session-secret';
const js = JSON.stringify;

export interface Answer {
  readonly ok: boolean;
  readonly value?: unknown;
  readonly code?: string | null;
  readonly message?: string;
}

export interface IsolationSpace {
  readonly work: string;
  readonly dataDir: string;
  readonly policyFile: string;
  /** Starts the example under `leash <mode…>`, e.g. ['enforce', '--isolate']. */
  start(mode: readonly string[]): Promise<RunningExample>;
}

export async function isolationSpace(
  options: { databaseUrl?: string } = {},
): Promise<IsolationSpace> {
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'leash-isolation-')));
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  // The app's directory (the config's) holds the compromised module, as it would hold an
  // installed dependency; the data lives outside it, as a deployment keeps it.
  const app = join(work, 'app');
  mkdirSync(app);
  const policyFile = join(app, 'leash.policy.json');
  const configFile = join(app, 'leash.config.json');
  const rce = join(app, 'route-rce.mjs');
  copyFileSync(RCE, rce);
  writeFileSync(
    configFile,
    js({
      principal: 'req.session.user',
      envRoots: ['DATA_DIR'],
      isolate: {
        loginRoutes: ['POST /login', 'POST /login-legacy'],
        together: [['POST /export', 'GET /export/:id']],
      },
    }),
  );
  const ports = { server: await freePort(), partner: await freePort() };
  return {
    work,
    dataDir,
    policyFile,
    start: (mode) =>
      startExample({
        dataDir,
        cwd: SERVICE_DIR,
        ports,
        ...(options.databaseUrl === undefined ? {} : { databaseUrl: options.databaseUrl }),
        env: { LEASH_CONFIG: configFile, LEASH_MODE: '', NO_COLOR: '1', SESSION_SECRET: SECRET },
        // Imported after leash's preload, as a dependency of the service is.
        nodeOptions: ['--import', rce],
        wrap: (command) => [
          process.execPath,
          BIN,
          ...mode,
          '--policy',
          policyFile,
          '--',
          ...command,
        ],
      }),
  };
}

export async function login(base: string, user: string, password: string): Promise<string> {
  const response = await fetch(new URL('/login', base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: js({ user, password }),
  });
  assert.equal(response.status, 200, await response.text());
  return response.headers
    .getSetCookie()
    .map((line) => line.split(';', 1)[0])
    .join('; ');
}

/**
 * Runs attacker code in the worker of `path`'s route (GET), in a request of the cookie's user,
 * once the service's session middleware has loaded the request's session.
 */
export async function attack(
  base: string,
  path: string,
  cookie: string,
  code: string,
): Promise<Answer> {
  const body = `for (let i = 0; i < 100000 && req.session === undefined; i++)
      await new Promise((resolve) => setImmediate(resolve));
    ${code}`;
  const response = await fetch(new URL(path, base), {
    headers: { 'x-attack-code': Buffer.from(body).toString('base64'), cookie },
  });
  const text = await response.text();
  try {
    return JSON.parse(text) as Answer;
  } catch {
    return { ok: false, code: `HTTP ${response.status}`, message: text };
  }
}
