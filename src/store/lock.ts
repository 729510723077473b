/**
 * @module
 * A cross-process exclusive lock that the kernel releases when its holder dies, even by SIGKILL,
 * so a killed writer never leaves a stale lock behind.
 *
 * It is an SQLite exclusive transaction on an empty lock file (`leash.policy.json.lock` next to
 * the policy): SQLite takes POSIX `fcntl` byte-range locks (LockFileEx on Windows), which belong
 * to the process and vanish with it. SQLite also arbitrates between connections inside one
 * process (threads), which bare `fcntl` locks do not.
 *
 * The lock file:
 * - stays empty (0 bytes): every transaction is rolled back, so SQLite never writes a page, and
 *   the journal lives in memory, so no `-journal` file appears either;
 * - is never deleted by leash: deleting it while another process waits would let two processes
 *   hold "the" lock on two different files. It is harmless to leave it;
 * - should be ignored by version control: add `leash.policy.json.lock` to `.gitignore`.
 *
 * A waiter polls with SQLite's busy handler (sleeps of 1, 2, 5, 10, … up to 100 ms), so it gets
 * the lock at most about 100 ms after the holder releases it or dies.
 */
import { statSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { LeashError } from '../errors.ts';

export interface LockOptions {
  /** How long to wait for another process to release the lock before failing. */
  readonly timeoutMs: number;
}

interface Handle {
  readonly db: DatabaseSync;
  /** Identity of the file the handle locks, to notice the lock file being replaced. */
  readonly dev: number;
  readonly ino: number;
  timeoutMs: number;
  /** Nesting depth of `withLock` calls in this thread holding the lock. */
  depth: number;
}

const SQLITE_BUSY = 5;
const SQLITE_NOTADB = 26;

/** One connection per lock file and thread: opening costs more than locking. */
const handles = new Map<string, Handle>();

/**
 * Runs `fn` while holding the exclusive lock on `lockPath` and returns its result. Re-entrant
 * within a thread: a nested call for the same path runs `fn` directly.
 *
 * Throws `ERR_LEASH_POLICY_IO` when the lock cannot be had within `timeoutMs` or the lock file
 * cannot be opened. `lockPath` should be absolute (the cache is keyed by it).
 */
export function withLock<T>(lockPath: string, fn: () => T, options: LockOptions): T {
  const held = handles.get(lockPath);
  if (held !== undefined && held.depth > 0) {
    held.depth++;
    try {
      return fn();
    } finally {
      held.depth--;
    }
  }
  const handle = acquire(lockPath, options.timeoutMs);
  handle.depth = 1;
  try {
    return fn();
  } finally {
    handle.depth = 0;
    release(lockPath, handle);
  }
}

function acquire(lockPath: string, timeoutMs: number): Handle {
  // Retry when the lock file was deleted or replaced after we opened it: the lock we got is then
  // on a file nobody else opens, which excludes nobody.
  for (let attempt = 0; ; attempt++) {
    const handle = open(lockPath, timeoutMs);
    try {
      handle.db.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      forget(lockPath, handle);
      throw lockError(lockPath, error, timeoutMs);
    }
    if (sameFile(lockPath, handle) || attempt >= 3) return handle;
    release(lockPath, handle);
    forget(lockPath, handle);
  }
}

function open(lockPath: string, timeoutMs: number): Handle {
  const cached = handles.get(lockPath);
  if (cached !== undefined) {
    if (cached.timeoutMs !== timeoutMs) {
      cached.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(timeoutMs))}`);
      cached.timeoutMs = timeoutMs;
    }
    return cached;
  }
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(lockPath, { timeout: Math.max(0, Math.floor(timeoutMs)) });
    // A rolled-back transaction writes nothing; a memory journal keeps even the journal off disk.
    db.exec('PRAGMA journal_mode = MEMORY');
    const { dev, ino } = statSync(lockPath);
    const handle: Handle = { db, dev, ino, timeoutMs, depth: 0 };
    handles.set(lockPath, handle);
    return handle;
  } catch (error) {
    try {
      db?.close();
    } catch {}
    throw lockError(lockPath, error, timeoutMs);
  }
}

function release(lockPath: string, handle: Handle): void {
  try {
    handle.db.exec('ROLLBACK');
  } catch {
    // Closing the connection releases its locks in every case.
    forget(lockPath, handle);
  }
}

function forget(lockPath: string, handle: Handle): void {
  if (handles.get(lockPath) === handle) handles.delete(lockPath);
  try {
    handle.db.close();
  } catch {}
}

function sameFile(lockPath: string, handle: Handle): boolean {
  try {
    const { dev, ino } = statSync(lockPath);
    return dev === handle.dev && ino === handle.ino;
  } catch {
    return false;
  }
}

function lockError(lockPath: string, error: unknown, timeoutMs: number): LeashError {
  const e = error as { errcode?: number; code?: string; message?: string };
  if (e.errcode === SQLITE_BUSY) {
    return new LeashError(
      'ERR_LEASH_POLICY_IO',
      `${lockPath}: another process held the policy lock for more than ${timeoutMs} ms`,
      { file: lockPath },
      { cause: error },
    );
  }
  const reason =
    e.errcode === SQLITE_NOTADB
      ? 'the file is not a leash lock file (it should be empty); delete it when no leash process runs'
      : (e.message ?? String(error));
  return new LeashError(
    'ERR_LEASH_POLICY_IO',
    `${lockPath}: cannot lock: ${reason}`,
    { file: lockPath },
    { cause: error },
  );
}

/** Closes every cached lock connection (tests; a process exiting needs no call). */
export function closeLocks(): void {
  for (const [path, handle] of handles) {
    if (handle.depth === 0) forget(path, handle);
  }
}
