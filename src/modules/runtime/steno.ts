/**
 * @module
 * steno 0.4, the writer of lowdb's JSON file (json-server's database): a route's write is decided
 * when the route asks for it. steno queues a write asked for while another to the same file is in
 * flight and makes it later, in the continuation of the write before, so the write itself lands in
 * whichever request's async context wrote first: those writes are the process's (`@pool`, see
 * context.ts), which says nothing of the route. The ask does: `writeFile(file, data, cb)` and
 * `writeFileSync(file, data)` run in the caller's context, so each is checked there as `fs.write`
 * of the data file by steno's caller (lowdb, or the promisifier it calls steno through), before
 * steno queues anything. A refusal is the API's own error: the callback's for `writeFile` (nothing
 * written, nothing queued), a throw for `writeFileSync`.
 *
 * The queue's own files are the data file and `.~<name>` beside it (its temporary copy, renamed
 * over the data file); under `--isolate` a worker may write them only when one of its routes may
 * write the data file (queued-writes.ts in src/isolate).
 */
import { basename, dirname, join, resolve } from 'node:path';
import { POOL } from '../../attribution/scope.ts';
import { coversRule, type PolicyTree, type Rule, rules } from '../../core/tree.ts';
import { defineInstrumentation, type Instrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';

/** Decides a write of `file` (absolute) in the caller's scope; throws ERR_LEASH_DENIED in enforce. */
export type WriteIntentCheck = (file: string) => void;

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** steno 0.4's temporary file for `file`: `.~<name>` in the same directory. */
const TEMP_PREFIX = '.~';

/**
 * The data file a path of steno's queue stands for: the path itself, or for its temporary copy
 * (`<dir>/.~<name>`, also as a policy pattern) the file renamed over (`<dir>/<name>`).
 */
export function stenoDataFile(path: string): string {
  const name = basename(path);
  if (!name.startsWith(TEMP_PREFIX) || name.length === TEMP_PREFIX.length) return path;
  return join(dirname(path), name.slice(TEMP_PREFIX.length));
}

/**
 * Whether a rule of `t` outside `@pool` grants writing `file` (a path or a pattern): a route's ask
 * of the queue, or a write of its own. A policy with none for a queue's data file was learned
 * before asks were (or with a steno leash does not patch): every route may ask then, as before.
 */
export function asksToWrite(t: PolicyTree): (file: string) => boolean {
  // The scope and package pairs that write some file, outside @pool: where an ask can be.
  const writers = new Map<string, Rule>();
  for (const [scope, pkg, capability] of rules(t))
    if (scope !== POOL && capability === 'fs.write' && scope !== undefined && pkg !== undefined)
      writers.set(`${scope}\n${pkg}`, [scope, pkg]);
  return (file) =>
    [...writers.values()].some((writer) => coversRule(t, [...writer, 'fs.write', file]));
}

function patchExports(exports: unknown, check: WriteIntentCheck): () => void {
  const target = exports as Record<string, AnyFunction>;
  const restores = [
    wrap(
      target,
      'writeFile',
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          const [file, , callback] = args;
          // steno resolves the path itself and throws on anything else: leave that to it.
          if (typeof file !== 'string') return original.apply(this, args);
          try {
            check(resolve(file));
          } catch (error) {
            if (typeof callback !== 'function') throw error;
            // steno calls back asynchronously, after its write: so does a refusal.
            process.nextTick(callback, error);
            return undefined;
          }
          return original.apply(this, args);
        },
    ),
    wrap(
      target,
      'writeFileSync',
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          const [file] = args;
          if (typeof file === 'string') check(resolve(file));
          return original.apply(this, args);
        },
    ),
  ];
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}

export function stenoInstrumentation(check: WriteIntentCheck): Instrumentation {
  return defineInstrumentation({
    package: 'steno',
    purpose: 'writes asked of it, decided in the asking route before they are queued',
    consequence:
      "its writes are checked only as the process's (@pool): code in any route may have it write the files it writes",
    failClosed: false,
    // 0.4 is the callback API lowdb 1 calls; from 1.0 steno is an ES module with a Writer class.
    files: [
      {
        file: '',
        versions: '>=0.4.3 <0.5',
        patch: (exports) => patchExports(exports, check),
      },
    ],
  });
}
