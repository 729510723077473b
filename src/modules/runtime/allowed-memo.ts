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
import { allows, PerGeneration, type PolicyTree } from '../../core/tree.ts';

/** A package name no npm package can have (`*` is the literal kind's "any"; see literal.ts). */
const ANY_PACKAGE = '*';

/** Uses remembered per generation; past it, memory starts afresh. */
const LIMIT = 20_000;

interface Entry {
  /** A rule grants the use to every package. */
  readonly any: boolean;
  /** Packages a rule was found to grant the use to. */
  readonly packages: Set<string>;
}

export class AllowedMemo {
  readonly #tree: PolicyTree;
  /**
   * Scope → capability → resource. Nested rather than one joined key: a joined key is a new
   * string to hash on every use, a route and a capability are the same strings every time.
   */
  readonly #entries: PerGeneration<Map<string, Map<string, Map<string, Entry>>>>;

  constructor(tree: PolicyTree) {
    this.#tree = tree;
    this.#entries = new PerGeneration(tree, LIMIT, () => new Map());
  }

  /** The memory of one use (`scope`, `capability`, `resource`); a use of any package. */
  entry(scope: string, capability: string, resource: string): Entry {
    const entries = this.#entries.current;
    let byCapability = entries.get(scope);
    if (byCapability === undefined) {
      byCapability = new Map();
      entries.set(scope, byCapability);
    }
    let byResource = byCapability.get(capability);
    if (byResource === undefined) {
      byResource = new Map();
      byCapability.set(capability, byResource);
    }
    let entry = byResource.get(resource);
    if (entry === undefined) {
      // The fact `*` in the package position matches a rule's `*` and no package's name.
      const any = allows(this.#tree, [scope, ANY_PACKAGE, capability, resource], {
        nearest: false,
      }).allowed;
      entry = { any, packages: new Set() };
      byResource.set(resource, entry);
      this.#entries.added();
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
