/**
 * @module
 * A throwaway PostgreSQL server for tests: `initdb` in a fresh temporary directory, `pg_ctl start`
 * on a free port of 127.0.0.1 (never another address; unix sockets in the temporary directory), a
 * `leash` role with a random password, a `leash` database, and `stop()` that shuts it down and
 * removes the directory. PostgreSQL refuses to run as root, so when the tests run as root the
 * server's programs run as `nobody` (spawn's uid/gid, which also drops supplementary groups) and
 * the directory belongs to that user. If the test process exits without stop(), an 'exit' handler
 * stops the server (immediate mode) and removes the directory.
 *
 * The server binaries come from Debian's `postgresql` package (the highest version under
 * /usr/lib/postgresql/<version>/bin), from `LEASH_PG_BIN`, or from the PATH. When there are none,
 * startPostgres() fails with an error that says to install them: tests that need PostgreSQL fail,
 * they never skip.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../examples/service/start.ts';
import { runProgram, serverIdentity } from './server-process.ts';

export interface RunningPostgres {
  /** `postgres://leash:<password>@127.0.0.1:<port>/leash` */
  url: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The temporary directory (data directory, socket directory, server log). */
  dir: string;
  /** Everything the server logged so far. */
  log(): string;
  /** Shuts the server down (fast mode) and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

const PROGRAMS = ['initdb', 'pg_ctl', 'postgres'] as const;
const HOST = '127.0.0.1';
const USER = 'leash';
const DATABASE = 'leash';
/** The account the server runs as when this process is root. */

const hasPrograms = (dir: string): boolean => PROGRAMS.every((name) => existsSync(join(dir, name)));

/**
 * The directory with initdb, pg_ctl and postgres, or undefined: `LEASH_PG_BIN` if set, else the
 * highest version under /usr/lib/postgresql (Debian, Ubuntu), else the first PATH entry with all
 * three.
 */
export function findPostgresBin(): string | undefined {
  const override = process.env.LEASH_PG_BIN;
  if (override) return hasPrograms(override) ? override : undefined;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((name) => /^\d+(\.\d+)?$/.test(name))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const bin = join(debian, version, 'bin');
      if (hasPrograms(bin)) return bin;
    }
  }
  return (process.env.PATH ?? '').split(delimiter).find((dir) => dir !== '' && hasPrograms(dir));
}

export const POSTGRES_MISSING =
  'PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under /usr/lib/postgresql/*/bin, ' +
  'LEASH_PG_BIN or the PATH. Install them: `apt-get install postgresql` (the CI script .ci/run ' +
  'does this); the tests that need a database server do not skip without it.';

export interface PostgresOptions {
  /**
   * pg_hba.conf lines put before initdb's own (which ask every user for SCRAM), e.g.
   * `host leash trusted 127.0.0.1/32 trust` for a test of another authentication method.
   */
  readonly hba?: readonly string[];
}

export async function startPostgres(options: PostgresOptions = {}): Promise<RunningPostgres> {
  const bin = findPostgresBin();
  if (bin === undefined) throw new Error(POSTGRES_MISSING);
  const as = serverIdentity();
  const dir = mkdtempSync(join(tmpdir(), 'leash-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sockets');
  const logFile = join(dir, 'server.log');
  const pwFile = join(dir, 'password');
  const password = randomBytes(18).toString('hex');
  const pgCtl = join(bin, 'pg_ctl');
  const log = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  // Synchronous, for the 'exit' handler: an immediate shutdown, then the directory goes.
  const emergencyStop = (): void => {
    if (existsSync(join(data, 'postmaster.pid'))) {
      try {
        execFileSync(pgCtl, ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '10'], {
          cwd: dir,
          stdio: 'ignore',
          ...(as ?? {}),
        });
      } catch {
        // Already gone.
      }
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  process.once('exit', emergencyStop);

  try {
    mkdirSync(sockets, { mode: 0o700 });
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    chmodSync(dir, 0o700);
    if (as) for (const path of [dir, sockets, pwFile]) chownSync(path, as.uid, as.gid);

    await runProgram(
      join(bin, 'initdb'),
      [
        '-D',
        data,
        '-U',
        USER,
        `--pwfile=${pwFile}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ],
      as,
      dir,
    );
    rmSync(pwFile);
    // A disposable server: no durability, small memory, loopback and our own socket dir only.
    appendFileSync(
      join(data, 'postgresql.conf'),
      [
        '',
        `listen_addresses = '${HOST}'`,
        `unix_socket_directories = '${sockets}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'shared_buffers = 16MB',
        'max_connections = 50',
        '',
      ].join('\n'),
    );

    if (options.hba !== undefined && options.hba.length > 0) {
      const hbaFile = join(data, 'pg_hba.conf');
      writeFileSync(hbaFile, `${options.hba.join('\n')}\n${readFileSync(hbaFile, 'utf8')}`);
    }

    // The port is free when chosen but may be taken before the server binds it: try again.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort(HOST);
      try {
        await runProgram(
          pgCtl,
          ['start', '-w', '-t', '90', '-D', data, '-l', logFile, '-o', `-p ${port}`],
          as,
          dir,
        );
        break;
      } catch (error) {
        if (attempt >= 3 || !/could not bind|already in use/i.test(log())) {
          throw new Error(`${(error as Error).message}\n${log().slice(-2000)}`);
        }
      }
    }

    const admin = new pg.Client({ host: HOST, port, user: USER, password, database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${DATABASE} OWNER ${USER}`);
    } finally {
      await admin.end();
    }

    let stopping: Promise<void> | undefined;
    return {
      url: `postgres://${USER}:${password}@${HOST}:${port}/${DATABASE}`,
      host: HOST,
      port,
      user: USER,
      password,
      database: DATABASE,
      dir,
      log,
      stop() {
        stopping ??= (async () => {
          process.removeListener('exit', emergencyStop);
          try {
            await runProgram(pgCtl, ['stop', '-D', data, '-m', 'fast', '-w', '-t', '90'], as, dir);
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
