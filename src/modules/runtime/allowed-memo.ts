/**
 * @module
 * Runtime decisions remembered per route and resource, so that a repeated use costs a map lookup
 * instead of a policy walk, and a use that a rule grants to every package (`*`) costs no look at
 * the stack at all: the package is computed only when the decision depends on it.
 *
 * Only what was allowed is remembered. Report and enforce never change the tree; learning only adds
 * to it (what was allowed stays allowed) until a flush replaces its contents, which starts a new
 * generation of memory.
 */
import { BoundedCache } from '../../core/bounded-cache.ts';
import { allows, generation, type PolicyTree } from '../../core/tree.ts';

/** A package name no npm package can have (`*` is the literal kind's "any"; see literal.ts). */
const ANY_PACKAGE = '*';

/** Resources remembered per generation (BoundedCache keeps up to twice as many). */
const LIMIT = 10_000;

interface Entry {
  /** A rule grants the use to every package. */
  readonly any: boolean;
  /** Packages a rule was found to grant the use to. */
  readonly packages: Set<string>;
}

export class AllowedMemo {
  readonly #tree: PolicyTree;
  #generation: number;
  #entries = new BoundedCache<string, Entry>(LIMIT);

  constructor(tree: PolicyTree) {
    this.#tree = tree;
    this.#generation = generation(tree);
  }

  /** The memory of one use (`scope`, `capability`, `resource`); a use of any package. */
  entry(scope: string, capability: string, resource: string): Entry {
    const now = generation(this.#tree);
    if (now !== this.#generation) {
      this.#generation = now;
      this.#entries.clear();
    }
    // NUL cannot occur in a route template, a capability name or a path Node accepts.
    const key = `${scope}\u0000${capability}\u0000${resource}`;
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      // The fact `*` in the package position matches a rule's `*` and no package's name.
      const any = allows(this.#tree, [scope, ANY_PACKAGE, capability, resource], {
        nearest: false,
      }).allowed;
      entry = { any, packages: new Set() };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Whether a rule grants the use to `pkg`; remembered once true. */
  allows(entry: Entry, scope: string, pkg: string, capability: string, resource: string): boolean {
    if (entry.any || entry.packages.has(pkg)) return true;
    if (!allows(this.#tree, [scope, pkg, capability, resource], { nearest: false }).allowed)
      return false;
    entry.packages.add(pkg);
    return true;
  }
}
