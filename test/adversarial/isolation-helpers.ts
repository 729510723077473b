// Shared by the isolation suites: a workspace for the example service whose app directory holds
// the config and a compromised dependency (examples/service/compromised-dependency.mjs), the data outside it, and how
// to log in and run attacker code in a chosen route's worker.
import { copyFileSync, mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPROMISED_DEPENDENCY } from '../../examples/service/compromised.ts';
import { freePort, type RunningExample, startExample } from '../../examples/service/start.ts';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const SERVICE_DIR = fileURLToPath(new URL('../../examples/service/', import.meta.url));
const SECRET = 'isolation-test-session-secret';
const js = JSON.stringify;

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
  copyFileSync(COMPROMISED_DEPENDENCY, rce);
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

export {
  type Answer,
  loginCookie as login,
  runInRoute as attack,
} from '../../examples/service/compromised.ts';
