/**
 * @module
 * The policy store for one machine: `leash.policy.json` next to the code, safe for several
 * processes learning into it at once (DESIGN.md, "Where leash runs").
 *
 * Files, for `leash.policy.json`:
 * - `leash.policy.json`: the reviewed policy, read without a lock (every write is an atomic
 *   rename, so a reader sees a whole file);
 * - `leash.violations.json`: violations seen in report and enforce mode, for review;
 * - `leash.violations.spool`: what the launcher that waits for a service (native/leash-sandbox.c
 *   `--wait`) received from it on the violations pipe, one line per flush, not yet merged into
 *   the violations file (only a store made with `spool` reads and merges it);
 * - `leash.policy.json.lock`: an empty lock file (see lock.ts); ignore it in version control.
 *
 * One lock guards every data file: writers take it once per flush for a few milliseconds, so a
 * second lock would save nothing and would be one more file to ignore. The launcher appends to the
 * spool under the same lock, so a store merging the spool removes exactly what it read.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { emptyPolicy, equals, type Policy } from '../core/policy.ts';
import { LeashError } from '../errors.ts';
import type { ModuleRegistry } from '../module/module.ts';
import { removeStaleTemps, writeFileAtomicSync } from './atomic-write.ts';
import type { Locality } from './locality.ts';
import { withLock } from './lock.ts';
import { parsePolicy, serializePolicy } from './policy-file.ts';
import type { PolicyStore, ViolationRecord } from './store.ts';
import { mergeViolations, parseViolations, serializeViolations } from './violations-file.ts';

export interface FileStoreOptions {
  /** The policy file, e.g. `leash.policy.json`. Relative paths resolve against the current directory now. */
  readonly file: string;
  readonly modules: ModuleRegistry;
  /** How long a writer waits for another to finish. Default 10 s. */
  readonly lockTimeoutMs?: number;
  /** This machine's roots and environment, for `{app}`, `{env:PORT}`… (none: paths as they are). */
  readonly locality?: Locality;
  /**
   * The supervisor's store: violations also come from the spool the launcher fills while the
   * service runs. Reading them includes its records; every write of violations merges it into
   * the violations file and removes it. A line that does not validate (the service wrote it) is
   * dropped, with `warn`.
   */
  readonly spool?: { readonly warn: (message: string) => void };
}

export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/** `leash.policy.json` → `leash.violations.json`; `x.json` → `x.violations.json`. */
/** `leash.policy.json` → `leash`: the name the files leash keeps beside a policy start with. */
export function policyStem(policyFile: string): string {
  return policyFile.endsWith('.policy.json')
    ? policyFile.slice(0, -'.policy.json'.length)
    : policyFile.endsWith('.json')
      ? policyFile.slice(0, -'.json'.length)
      : policyFile;
}

export function violationsPath(policyFile: string): string {
  return `${policyStem(policyFile)}.violations.json`;
}

/** `leash.policy.json` → `leash.violations.spool`: violations the launcher received, not yet merged. */
export function spoolPath(policyFile: string): string {
  return `${policyStem(policyFile)}.violations.spool`;
}

/** `leash.policy.json` → `leash.status.json`: what a running `leash enforce --isolate` reports. */
export function statusPath(policyFile: string): string {
  return `${policyStem(policyFile)}.status.json`;
}

export function lockPath(policyFile: string): string {
  return `${policyFile}.lock`;
}

export function createFileStore(options: FileStoreOptions): PolicyStore {
  const { modules, locality } = options;
  const display = options.file;
  const file = resolve(options.file);
  const violationsDisplay = violationsPath(display);
  const violationsFile = violationsPath(file);
  const spoolDisplay = spoolPath(display);
  const spoolFile = spoolPath(file);
  const lock = lockPath(file);
  const lockOptions = { timeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS };

  const readPolicy = (): Policy => {
    const text = readText(file, display);
    return text === undefined
      ? emptyPolicy()
      : parsePolicy(text, {
          file: display,
          modules,
          ...(locality === undefined ? {} : { locality }),
        });
  };

  const readViolations = (): ViolationRecord[] => {
    const text = readText(violationsFile, violationsDisplay);
    return text === undefined ? [] : parseViolations(text, violationsDisplay);
  };

  // A bad line is said once, though each read of the spool meets it again.
  const warned = new Set<string>();
  const warnOnce = (message: string): void => {
    if (warned.has(message)) return;
    warned.add(message);
    options.spool?.warn(message);
  };

  /** The spool's records (none without `spool`), and whether there was a spool to remove. */
  const readSpool = (): { records: ViolationRecord[]; found: boolean } => {
    if (options.spool === undefined) return { records: [], found: false };
    const text = readText(spoolFile, spoolDisplay);
    if (text === undefined) return { records: [], found: false };
    return { records: parseSpool(text, spoolDisplay, warnOnce), found: true };
  };

  /** The violations file's records with the spool's merged in. */
  const readAll = (): { file: ViolationRecord[]; all: ViolationRecord[]; spooled: boolean } => {
    const current = readViolations();
    const spool = readSpool();
    return {
      file: current,
      all: spool.records.length === 0 ? current : mergeViolations(current, spool.records),
      spooled: spool.found,
    };
  };

  const removeSpool = (): void => {
    try {
      unlinkSync(spoolFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new LeashError(
        'ERR_LEASH_POLICY_IO',
        `cannot remove ${spoolDisplay} after merging it: ${(error as Error).message}`,
        { file: spoolDisplay },
        { cause: error },
      );
    }
  };

  const writeViolations = (
    before: readonly ViolationRecord[],
    after: readonly ViolationRecord[],
  ): void => {
    const text = serializeViolations(after);
    if (text === serializeViolations(before)) return;
    removeStaleTemps(violationsFile);
    writeFileAtomicSync(violationsFile, text);
  };

  return {
    location: display,

    load: readPolicy,

    update(change) {
      return withLock(
        lock,
        () => {
          const current = readPolicy();
          const next = change(current);
          for (const name of next.modules.keys()) {
            if (!modules.has(name)) {
              throw new LeashError(
                'ERR_LEASH_MODULE',
                `cannot write module "${name}" to ${display}: it is not registered`,
                { file },
              );
            }
          }
          // Unchanged rules leave the file alone, hand formatting included.
          if (!equals(current, next)) {
            removeStaleTemps(file);
            writeFileAtomicSync(file, serializePolicy(next, locality));
          }
          return next;
        },
        lockOptions,
      );
    },

    loadViolations: () => readAll().all,

    recordViolations(records) {
      if (records.length === 0) return;
      withLock(
        lock,
        () => {
          const { file: current, all, spooled } = readAll();
          writeViolations(current, mergeViolations(all, records));
          // Written first, removed after: a merge killed in between counts the spool twice
          // rather than losing it.
          if (spooled) removeSpool();
        },
        lockOptions,
      );
    },

    updateViolations(change) {
      withLock(
        lock,
        () => {
          const { file: current, all, spooled } = readAll();
          writeViolations(current, change(all.slice()));
          if (spooled) removeSpool();
        },
        lockOptions,
      );
    },
  };
}

/**
 * The spool's records: one violations document per line, each validated like the violations
 * file. The service wrote them, so a line that does not validate is reported and dropped.
 */
export function parseSpool(
  text: string,
  display: string,
  warn: (message: string) => void,
): ViolationRecord[] {
  const out: ViolationRecord[] = [];
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      out.push(...parseViolations(line, display));
    } catch (error) {
      // Each line is a document of one line: `file:1:col` becomes `file:line:col` of the spool.
      const message = (error as Error).message;
      const first = `${display}:1:`;
      const where = message.startsWith(first)
        ? `${display}:${index + 1}:${message.slice(first.length)}`
        : message;
      warn(`dropped a violations record from the service: ${where}`);
    }
  }
  return out;
}

/** The file's text, or `undefined` when it does not exist. */
function readText(file: string, display: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    const reason = (error as Error).message;
    throw new LeashError(
      'ERR_LEASH_POLICY_IO',
      `cannot read ${display}: ${reason}`,
      { file: display },
      { cause: error },
    );
  }
  // An editor may save a byte order mark; JSON does not allow one.
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
