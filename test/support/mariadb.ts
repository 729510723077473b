/**
 * @module
 * A throwaway MariaDB server for tests: `mariadb-install-db` into a fresh temporary directory,
 * `mariadbd` on a free port of 127.0.0.1 only (and a unix socket in that directory), a `leash` user
 * with a random password that may connect from 127.0.0.1 only, a `leash` database, and `stop()`
 * that shuts the server down and removes the directory. When the tests run as root the server's
 * programs run as `nobody` (spawn's uid/gid, which also drops supplementary groups) and the
 * directory belongs to that user. If the test process exits without stop(), an 'exit' handler
 * kills the server and removes the directory.
 *
 * The binaries come from Debian's `mariadb-server` package (`/usr/sbin/mariadbd`,
 * `mariadb-install-db` on the PATH), or from `LEASH_MARIADB_BIN` (one directory with both). When
 * they are missing, startMariaDB() fails with an error that says to install them: tests that need
 * MariaDB fail, they never skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from '../../examples/service/start.ts';
import { RUN_LIMIT_MS } from './processes.ts';
import { runProgram, serverIdentity } from './server-process.ts';

export interface RunningMariaDB {
  /** `mysql://leash:<password>@127.0.0.1:<port>/leash` */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The temporary directory (data directory, socket, server log). */
  dir: string;
  /** The server's process id. */
  pid: number;
  /** Creates another database the user owns; resolves to its URL. */
  createDatabase(name: string): Promise<string>;
  /** Everything the server logged so far. */
  log(): string;
  /** Shuts the server down and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const USER = 'leash';
const DATABASE = 'leash';
/** The account the server runs as when this process is root. */

interface Programs {
  readonly installDb: string;
  readonly server: string;
}

/** `mariadb-install-db` and `mariadbd`, or undefined. */
export function findMariaDB(): Programs | undefined {
  const override = process.env.LEASH_MARIADB_BIN;
  const dirs = override
    ? [override]
    : ['/usr/sbin', '/usr/bin', ...(process.env.PATH ?? '').split(delimiter)];
  const find = (name: string): string | undefined =>
    dirs
      .filter((dir) => dir !== '')
      .map((dir) => join(dir, name))
      .find((path) => existsSync(path));
  const installDb = find('mariadb-install-db');
  const server = find('mariadbd');
  return installDb === undefined || server === undefined ? undefined : { installDb, server };
}

export const MARIADB_MISSING =
  'MariaDB server binaries (mariadb-install-db, mariadbd) not found under /usr/sbin, /usr/bin, ' +
  'LEASH_MARIADB_BIN or the PATH. Install them: `apt-get install mariadb-server` (the CI script ' +
  '.ci/run does this); the tests that need a MySQL server do not skip without it.';

const exited = (child: ChildProcess): boolean =>
  child.exitCode !== null || child.signalCode !== null;

/** Waits until root can connect on the socket, the server exits, or the limit passes. */
async function ready(child: ChildProcess, socketPath: string): Promise<boolean> {
  const deadline = Date.now() + RUN_LIMIT_MS;
  while (!exited(child) && Date.now() < deadline) {
    if (existsSync(socketPath)) {
      try {
        const probe = await mysql.createConnection({ socketPath, user: 'root' });
        await probe.end();
        return true;
      } catch {
        // Not accepting yet.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}

export async function startMariaDB(): Promise<RunningMariaDB> {
  const programs = findMariaDB();
  if (programs === undefined) throw new Error(MARIADB_MISSING);
  const as = serverIdentity();
  const dir = mkdtempSync(join(tmpdir(), 'leash-my-'));
  const data = join(dir, 'data');
  const socketPath = join(dir, 'mysqld.sock');
  const logFile = join(dir, 'server.log');
  const password = randomBytes(18).toString('hex');
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  let child: ChildProcess | undefined;

  // Synchronous, for the 'exit' handler: kill the server, then the directory goes.
  const emergencyStop = (): void => {
    if (child !== undefined && !exited(child)) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  process.once('exit', emergencyStop);

  // A disposable server: small memory, no durability, loopback and our own socket only.
  const common = [
    '--no-defaults',
    `--datadir=${data}`,
    '--innodb-buffer-pool-size=8M',
    '--innodb-log-file-size=8M',
    '--innodb-flush-log-at-trx-commit=0',
    '--skip-name-resolve',
    '--character-set-server=utf8mb4',
  ];
  try {
    chmodSync(dir, 0o700);
    if (as) chownSync(dir, as.uid, as.gid);
    await runProgram(
      programs.installDb,
      [...common, '--auth-root-authentication-method=normal', '--skip-test-db'],
      as,
      dir,
    );

    // The port is free when chosen but may be taken before the server binds it: try again.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort(HOST);
      const server = spawn(
        programs.server,
        [
          ...common,
          `--port=${port}`,
          `--bind-address=${HOST}`,
          '--skip-networking=0',
          `--socket=${socketPath}`,
          `--pid-file=${join(dir, 'mysqld.pid')}`,
          `--log-error=${logFile}`,
          '--max-connections=100',
        ],
        { cwd: dir, stdio: 'ignore', ...(as ?? {}) },
      );
      child = server;
      if (await ready(server, socketPath)) break;
      if (!exited(server)) server.kill('SIGKILL');
      if (attempt >= 3 || !/bind|already in use/i.test(log())) {
        throw new Error(`mariadbd did not start\n${log().slice(-2000)}`);
      }
    }

    const admin = await mysql.createConnection({ socketPath, user: 'root' });
    try {
      await admin.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4`);
      await admin.query(`CREATE USER ?@? IDENTIFIED BY ?`, [USER, HOST, password]);
      await admin.query(`GRANT ALL PRIVILEGES ON ${DATABASE}.* TO ?@?`, [USER, HOST]);
    } finally {
      await admin.end();
    }

    const server = child!;
    let stopping: Promise<void> | undefined;
    return {
      url: `mysql://${USER}:${password}@${HOST}:${port}/${DATABASE}`,
      host: HOST,
      port,
      user: USER,
      password,
      database: DATABASE,
      dir,
      pid: server.pid!,
      async createDatabase(name) {
        if (!/^\w+$/.test(name)) throw new Error(`not a database name: ${name}`);
        const root = await mysql.createConnection({ socketPath, user: 'root' });
        try {
          await root.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4`);
          await root.query(`GRANT ALL PRIVILEGES ON ${name}.* TO ?@?`, [USER, HOST]);
        } finally {
          await root.end();
        }
        return `mysql://${USER}:${encodeURIComponent(password)}@${HOST}:${port}/${name}`;
      },
      log,
      stop() {
        stopping ??= (async () => {
          process.removeListener('exit', emergencyStop);
          try {
            if (!exited(server)) {
              const gone = new Promise((resolve) => server.once('exit', resolve));
              server.kill('SIGTERM');
              const limit = setTimeout(() => server.kill('SIGKILL'), RUN_LIMIT_MS);
              await gone;
              clearTimeout(limit);
            }
          } finally {
            rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
          }
        })();
        return stopping;
      },
    };
  } catch (error) {
    process.removeListener('exit', emergencyStop);
    emergencyStop();
    throw error;
  }
}
