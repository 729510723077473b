/** Child processes and temporary directories for the store tests. */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killGroup, STARTUP_LIMIT_MS, spawnGroup } from '../support/processes.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures');

export function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Fixture {
  readonly child: ChildProcess;
  /** Complete lines printed so far. */
  readonly lines: string[];
  /**
   * Resolves with the first line (now or later) that satisfies `test`; at the limit the fixture
   * (and whatever it started) is killed and the promise rejects.
   */
  line(test: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export function runFixture(name: string, args: readonly string[]): Fixture {
  const child = spawnGroup(process.execPath, [join(FIXTURES, name), ...args]);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let partial = '';
  let errText = '';
  let closed = false;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    errText += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      closed = true;
      for (const w of waiters) w();
      resolve({ code, signal });
    });
  });
  return {
    child,
    lines,
    exited,
    stderr: () => errText,
    line(test, timeoutMs = STARTUP_LIMIT_MS) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = lines.find(test);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (closed) {
            done();
            reject(
              new Error(
                `${name} ended without the expected line; stdout: ${lines.join(' | ')}; stderr: ${errText}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          killGroup(child);
          reject(
            new Error(
              `${name}: no expected line within ${timeoutMs} ms; stdout: ${lines.join(' | ')}; stderr: ${errText}`,
            ),
          );
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}
