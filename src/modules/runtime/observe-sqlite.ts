/**
 * @module
 * While learning: the SQLite database files `node:sqlite` uses, as fs.read and fs.write of the
 * file and of the journal SQLite keeps beside it. SQLite opens them in native code, where neither
 * the fs wrappers nor Node's permission audit see it; the kernel layer needs them in the policy
 * (the in-process layer decides SQL by statement, not by file). The constructor cannot be
 * replaced for code that imports it by name, so the file is taken from `location()` at the first
 * `exec` or `prepare` of each database. better-sqlite3 and sqlite3 (native addons of their own)
 * announce theirs on a channel from the sql module's hooks (src/drivers/sqlite-files.ts): with
 * the sql module off, their files are not learned.
 */
import diagnostics from 'node:diagnostics_channel';
import sqlite from 'node:sqlite';
import { SQLITE_FILE_CHANNEL } from '../../drivers/sqlite-files.ts';
import type { RuntimeContext } from './context.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

export function observeSqlite(context: RuntimeContext): () => void {
  const proto = sqlite.DatabaseSync.prototype as unknown as Record<string, AnyFunction>;
  const seen = new WeakSet<object>();
  const note = (db: sqlite.DatabaseSync) => {
    if (seen.has(db)) return;
    seen.add(db);
    let path: string | null | undefined;
    try {
      path = db.location();
    } catch {
      return;
    }
    if (typeof path !== 'string' || path === '') return;
    for (const capability of ['fs.read', 'fs.write'] as const) {
      context.observe(capability, path);
      context.observe(capability, `${path}-journal`);
    }
  };
  // better-sqlite3 and sqlite3 announce their files from the sql module's driver hooks.
  const onAnnounced = (message: unknown) => {
    const filename = (message as { filename?: unknown }).filename;
    if (typeof filename !== 'string') return;
    for (const capability of ['fs.read', 'fs.write'] as const) {
      context.observe(capability, filename);
      context.observe(capability, `${filename}-journal`);
    }
  };
  diagnostics.subscribe(SQLITE_FILE_CHANNEL, onAnnounced);
  const restore: Array<() => void> = [
    () => diagnostics.unsubscribe(SQLITE_FILE_CHANNEL, onAnnounced),
  ];
  for (const name of ['exec', 'prepare'] as const) {
    const original = proto[name]!;
    proto[name] = function (this: unknown, ...args: unknown[]) {
      note(this as sqlite.DatabaseSync);
      return original.apply(this, args);
    };
    restore.push(() => {
      proto[name] = original;
    });
  }
  return () => {
    for (const undo of restore.reverse()) undo();
  };
}
