/**
 * @module
 * Replacing a file so that a reader, or a process that crashes half-way, sees either the old or
 * the new content and never a mix: write a temporary file beside it, flush it to disk, rename it
 * over the target, flush the directory.
 *
 * Temporary files are named `.<basename>.<pid>.<random>.tmp`; one left behind by a killed
 * process is removed by `removeStaleTemps` once that process is gone.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { LeashError } from '../errors.ts';

/** Writes `text` to `path` atomically. Throws `ERR_LEASH_POLICY_IO` with the reason. */
export function writeFileAtomicSync(path: string, text: string): void {
  const target = resolveLink(path);
  const dir = dirname(target);
  const temp = join(
    dir,
    `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let fd: number | undefined;
  try {
    const mode = existingMode(target);
    fd = openSync(temp, 'wx', mode ?? 0o666);
    if (mode !== undefined) keepMode(fd, mode);
    writeFileSync(fd, text);
    syncFile(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, target);
  } catch (error) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {}
    }
    try {
      unlinkSync(temp);
    } catch {}
    throw ioError(`cannot write ${path}`, path, error);
  }
  syncDirectory(dir, path);
}

/**
 * Deletes temporary files of `path` left by processes that no longer run. Returns the removed
 * paths. A process id reused by an unrelated process keeps its file until that one ends too.
 */
export function removeStaleTemps(path: string): string[] {
  const target = resolveLink(path);
  const dir = dirname(target);
  const pattern = tempPattern(basename(target));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw ioError(`cannot list ${dir}`, path, error);
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = pattern.exec(name);
    if (match === null) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    const file = join(dir, name);
    try {
      unlinkSync(file);
      removed.push(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw ioError(`cannot remove ${file}`, path, error);
      }
    }
  }
  return removed;
}

/** Matches the temporary files of a target's base name; group 1 is the writer's pid. */
export function tempPattern(base: string): RegExp {
  return new RegExp(
    `^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.[0-9a-f]+\\.tmp$`,
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A symbolic link to the policy stays a link: the file it points to is replaced. */
function resolveLink(path: string): string {
  try {
    if (lstatSync(path).isSymbolicLink()) return realpathSync(path);
  } catch {}
  return path;
}

function existingMode(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o7777;
  } catch {
    return undefined;
  }
}

/**
 * Gives the new file the old one's mode; under Node's permission model fchmod is disabled, and
 * the file keeps the mode `openSync` gave it (the same mode, less the umask).
 */
function keepMode(fd: number, mode: number): void {
  try {
    fchmodSync(fd, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_ACCESS_DENIED') throw error;
  }
}

/**
 * fsync, except where Node's permission model forbids it (`--permission`, and even
 * `--permission-audit`, disable the fsync family): the rename still never leaves a partial file
 * behind a crashed process; only durability across a power loss is given up there.
 */
function syncFile(fd: number): void {
  try {
    fsyncSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_ACCESS_DENIED') throw error;
  }
}

function syncDirectory(dir: string, path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    syncFile(fd);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Some platforms and file systems cannot open or sync a directory (Windows: EPERM/EISDIR).
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'ENOTSUP') {
      throw ioError(`cannot sync directory ${dir} after writing ${path}`, path, error);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function ioError(what: string, file: string, error: unknown): LeashError {
  const reason = (error as Error).message ?? String(error);
  return new LeashError('ERR_LEASH_POLICY_IO', `${what}: ${reason}`, { file }, { cause: error });
}
