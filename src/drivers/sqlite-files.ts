/**
 * @module
 * Drivers that open SQLite files in native code announce each database's file once, on a
 * diagnostics channel, so that the runtime module can learn the file (and its journal) as the
 * service's: neither the fs wrappers nor Node's permission audit see a native open, and the
 * kernel layer grants only what the policy names. Nothing is published while nobody listens
 * (only learning subscribes), so enforcement pays one `hasSubscribers` test.
 */
import diagnostics from 'node:diagnostics_channel';
import { resolve } from 'node:path';

export const SQLITE_FILE_CHANNEL = 'leash:sqlite.file';

const channel = diagnostics.channel(SQLITE_FILE_CHANNEL);
const announced = new WeakSet<object>();

/** Announces `filename` of `database` once; in-memory and temporary databases have no file. */
export function announceSqliteFile(database: object, filename: unknown): void {
  if (!channel.hasSubscribers || announced.has(database)) return;
  announced.add(database);
  if (typeof filename !== 'string' || filename === '' || filename === ':memory:') return;
  if (filename.startsWith('file:')) return; // URI filenames: left to the user's own rules
  channel.publish({ filename: resolve(filename) });
}
