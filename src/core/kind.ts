/**
 * @module
 * A kind gives meaning to one position of a fact sequence: it says which rule keys cover which
 * concrete facts, how siblings generalise, and what kind the next position has.
 *
 * Vocabulary:
 * - a *fact* is a concrete observed string (`/srv/app/views/note.html`);
 * - a *key* is what a policy tree stores at one position: either a fact in its escaped form
 *   (`kind.key(fact)`) or a pattern (`/srv/app/views/*.html`). Escaping keeps a file that is
 *   literally named `*` from becoming a wildcard rule.
 *
 * Kinds are pure: no I/O, no Node APIs, so the core can run anywhere and be property-tested.
 */

/** Options every kind may read while simplifying; filled from the user's config. */
export interface SimplifyOptions {
  /** Distinct siblings needed before a collapse happens. Default 3. */
  readonly threshold: number;
  /** Absolute directories under which file paths may be generalised (app dir, data dirs, tmp). */
  readonly roots: readonly string[];
  /** Home directories (besides `/home/*` and `/Users/*`) in which a wildcard is never produced. */
  readonly homes: readonly string[];
  /**
   * The app's own directory, when known: no wildcard is produced in a directory above it, where a
   * pattern would also cover the app's code (an app checked out in the temp directory, whose data
   * lives in the temp directory too).
   */
  readonly app?: string;
}

export const DEFAULT_SIMPLIFY_OPTIONS: SimplifyOptions = Object.freeze({
  threshold: 3,
  roots: Object.freeze([]) as readonly string[],
  homes: Object.freeze([]) as readonly string[],
});

/** One proposed generalisation: `pattern` replaces every key of `members` (it covers each). */
export interface Collapse {
  readonly pattern: string;
  readonly members: readonly string[];
}

export interface Kind {
  /** Stable name, shown in messages and docs (`path`, `endpoint`, ...). */
  readonly name: string;

  /** The key under which a concrete fact is stored (escapes pattern syntax). */
  key(fact: string): string;

  /** Whether the rule key `key` allows the concrete fact `fact`. The hot path: keep it cheap. */
  matches(key: string, fact: string): boolean;

  /**
   * Whether everything `inner` allows is also allowed by `outer` (both keys). May answer `false`
   * when unsure: that only keeps a redundant rule, never widens a policy. Must be reflexive.
   */
  covers(outer: string, inner: string): boolean;

  /** Whether a key is a pattern (allows more than one fact) rather than an escaped fact. */
  isPattern(key: string): boolean;

  /**
   * Proposes generalisations of sibling keys (sorted, distinct). Each returned pattern must cover
   * all its members; groups must be disjoint. Return `[]` to keep every key as it is.
   */
  collapse(keys: readonly string[], options: SimplifyOptions): readonly Collapse[];

  /** The kind of the next position after `key`, or `null` when a rule ends at `key`. */
  child(key: string): Kind | null;

  /** Why a key written by hand is malformed (`undefined` when it is fine). */
  validate(key: string): string | undefined;

  /**
   * Why a key is broader than simplification would ever produce (lint warning), or `undefined`.
   * E.g. a hand-written `/**` or `*.com`.
   */
  breadth(key: string, options: SimplifyOptions): string | undefined;
}
