/**
 * @module
 * A memo with a size bound that evicts the least recently used entries instead of dropping
 * everything at once. Two generations: hits in the older one are promoted, and when the young one
 * is full the older one is dropped. That approximates LRU with no reordering on a young hit, so
 * the enforcement hot path (a `get` that hits) costs one Map lookup.
 *
 * Clearing a whole cache at its limit, as the kinds did, made a working set just above the limit
 * miss on every call: simplifying 100,000 paths parsed each key three times.
 */
export class BoundedCache<K, V> {
  readonly #limit: number;
  #young = new Map<K, V>();
  #old = new Map<K, V>();

  /** `limit`: entries per generation; at most twice that many are held. */
  constructor(limit: number) {
    if (!(limit >= 1)) throw new RangeError(`a cache limit must be at least 1, got ${limit}`);
    this.#limit = limit;
  }

  get(key: K): V | undefined {
    const hit = this.#young.get(key);
    if (hit !== undefined) return hit;
    const old = this.#old.get(key);
    if (old !== undefined) {
      this.#old.delete(key);
      this.set(key, old);
    }
    return old;
  }

  set(key: K, value: V): void {
    if (this.#young.size >= this.#limit && !this.#young.has(key)) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  /** The memoised value of `key`, computing and keeping it when absent. */
  resolve(key: K, compute: (key: K) => V): V {
    let value = this.get(key);
    if (value === undefined) {
      value = compute(key);
      this.set(key, value);
    }
    return value;
  }

  /** Forgets every entry. */
  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }
}

/** Parsed policy keys per kind: a policy's keys and the facts of recent calls fit many times. */
export const KEY_CACHE_LIMIT = 16_384;
