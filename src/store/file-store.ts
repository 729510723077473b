/**
 * @module
 * The policy store for one machine: `leash.policy.json` next to the code, safe for several
 * processes learning into it at once (DESIGN.md, "Where leash runs").
 *
 * Files, for `leash.policy.json`:
 * - `leash.policy.json`: the reviewed policy, read without a lock (every write is an atomic
 *   rename, so a reader sees a whole file);
 * - `leash.violations.json`: violations seen in report and enforce mode, for review;
 * - `leash.policy.json.lock`: an empty lock file (see lock.ts); ignore it in version control.
 *
 * One lock guards both data files: writers take it once per flush for a few milliseconds, so a
 * second lock would save nothing and would be one more file to ignore.
 */
import { readFileSync } from 'node:fs';
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

    loadViolations: readViolations,

    recordViolations(records) {
      if (records.length === 0) return;
      withLock(
        lock,
        () => {
          const current = readViolations();
          writeViolations(current, mergeViolations(current, records));
        },
        lockOptions,
      );
    },

    updateViolations(change) {
      withLock(
        lock,
        () => {
          const current = readViolations();
          writeViolations(current, change(current.slice()));
        },
        lockOptions,
      );
    },
  };
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
