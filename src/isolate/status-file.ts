/**
 * @module
 * What a running supervisor tells `leash status`: a small JSON file beside the policy, rewritten
 * every few seconds and removed when the supervisor stops (per group: routes, workers with their
 * pid, whether they listen, starts, requests and resident memory, refusals).
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { GroupStatus } from './supervisor.ts';

export interface StatusDocument {
  readonly pid: number;
  readonly front: string;
  readonly since: string;
  readonly updated: string;
  readonly groups: readonly GroupStatus[];
}

export function writeStatus(file: string, document: StatusDocument): void {
  // Replaced whole, so a reader never sees half a document.
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(document, null, 2)}\n`);
  renameSync(temporary, file);
}

export function removeStatus(file: string): void {
  rmSync(file, { force: true });
}

/** The document, or undefined when no supervisor wrote one (or it is unreadable). */
export function readStatus(file: string): StatusDocument | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as StatusDocument;
    return Array.isArray(parsed.groups) && typeof parsed.pid === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote the document is still there. */
export function isRunning(document: StatusDocument): boolean {
  try {
    process.kill(document.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A table: one line per worker, grouped. */
export function renderStatus(document: StatusDocument): string {
  const lines = [
    `leash ${document.pid}, isolating on ${document.front} since ${document.since} (as of ${document.updated})`,
  ];
  let rss = 0;
  let workers = 0;
  for (const group of document.groups) {
    const requests = group.workers.reduce((n, w) => n + w.requests, 0);
    lines.push(
      `  ${group.group}: ${group.routes.length} route${group.routes.length === 1 ? '' : 's'}, ${requests} requests, ${group.refusals} refused`,
    );
    for (const w of group.workers) {
      workers++;
      rss += w.rssKiB ?? 0;
      const memory = w.rssKiB === undefined ? '?' : `${(w.rssKiB / 1024).toFixed(0)} MiB`;
      lines.push(
        `    ${w.name.padEnd(16)} pid ${String(w.pid ?? '-').padEnd(8)} ${w.listening ? 'listening' : 'starting '}  ${memory.padStart(7)}  ${w.requests} requests, started ${w.starts}×`,
      );
    }
  }
  lines.push(`  ${workers} workers, ${(rss / 1024).toFixed(0)} MiB resident in all`);
  return `${lines.join('\n')}\n`;
}
