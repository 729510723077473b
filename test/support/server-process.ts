/**
 * @module
 * What the throwaway database servers of the tests (postgres.ts, mariadb.ts) share: who runs
 * them (root runs them as `nobody`, which they require), and running one of their programs with
 * a time limit that kills it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { RUN_LIMIT_MS } from './processes.ts';

export interface Identity {
  uid: number;
  gid: number;
}

const UNPRIVILEGED = 'nobody';

/** Root runs the server as `nobody`; anyone else runs it as themselves. */
export function serverIdentity(): Identity | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, UNPRIVILEGED], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** Runs a server program as `as` in `cwd`, killed at the run limit; resolves with its stdout. */
export function runProgram(
  file: string,
  args: string[],
  as: Identity | undefined,
  cwd: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd, timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL', encoding: 'utf8', ...(as ?? {}) },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}
