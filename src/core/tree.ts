/**
 * @module
 * A policy tree: the allowed fact sequences of one module, stored as a prefix tree of keys, as in
 * PIE. The kind of each position comes from the kind of the previous key (`kind.child(key)`), so
 * a runtime rule can hold a file path after `fs.read` and a host:port after `net.connect`.
 *
 * `add` and `allows` are the hot paths (learning and enforcing); the other operations build new
 * trees and never modify their inputs.
 */

import { LeashError } from '../errors.ts';
import type { Kind, SimplifyOptions } from './kind.ts';

export type Facts = readonly string[];
/** A rule: one key per position, from the root to a leaf. */
export type Rule = readonly string[];

/**
 * The children of every leaf: most nodes of a large policy are leaves, and a map each made most of
 * the garbage of `merge` and `clone`. It refuses changes, which go through the node.
 */
class NoChildren extends Map<string, PolicyNode> {
  override set(): never {
    throw new Error('a policy node gets children through ensure() or adopt()');
  }
}
const NO_CHILDREN: ReadonlyMap<string, PolicyNode> = new NoChildren();
const NO_PATTERNS: readonly string[] = Object.freeze([]);

export class PolicyNode {
  /** Made on the first child. */
  #children: Map<string, PolicyNode> | undefined;
  /** Keys of `children` that are patterns; rebuilt lazily after a change. */
  #patterns: string[] | undefined;

  get children(): ReadonlyMap<string, PolicyNode> {
    return this.#children ?? NO_CHILDREN;
  }

  patternKeys(kind: Kind): readonly string[] {
    if (this.#children === undefined) return NO_PATTERNS;
    if (this.#patterns === undefined) {
      this.#patterns = [];
      for (const key of this.children.keys()) if (kind.isPattern(key)) this.#patterns.push(key);
    }
    return this.#patterns;
  }

  /**
   * Returns the child under `key`, creating it when absent. Given the kind of this position, the
   * pattern list is kept up to date instead of rebuilt: learning adds a key per new fact and
   * checks after each, so rebuilding made learning n distinct facts quadratic.
   */
  ensure(key: string, kind?: Kind): PolicyNode {
    if (this === LEAF) throw new Error('the shared leaf node never gets children');
    let children = this.#children;
    if (children === undefined) {
      children = new Map();
      this.#children = children;
    }
    let child = children.get(key);
    if (child === undefined) {
      child = new PolicyNode();
      children.set(key, child);
      if (this.#patterns !== undefined && kind !== undefined) {
        if (kind.isPattern(key)) this.#patterns.push(key);
      } else this.#patterns = undefined;
    } else if (child === LEAF) {
      // The caller may add below it: a node of its own, under the same key (same pattern list).
      child = new PolicyNode();
      children.set(key, child);
    }
    return child;
  }

  /** Puts the subtree `child` (shared, not copied) under `key`, in place of any child there. */
  adopt(key: string, child: PolicyNode): void {
    if (this === LEAF) throw new Error('the shared leaf node never gets children');
    this.#children ??= new Map();
    this.#children.set(key, child);
    this.#patterns = undefined;
  }

  /** Removes every child. */
  clear(): void {
    this.#children = undefined;
    this.#patterns = undefined;
  }

  remove(key: string): void {
    if (this.#children?.delete(key)) this.#patterns = undefined;
  }
}

/**
 * The node copies share for every leaf (a node without children), as they share NO_CHILDREN:
 * `ensure` puts a node of its own in its place before anything is added below it.
 */
const LEAF = new PolicyNode();

export interface PolicyTree {
  readonly kind: Kind;
  readonly root: PolicyNode;
}

export type Decision =
  | { readonly allowed: true; readonly rule: Rule }
  | { readonly allowed: false; readonly nearest: Rule | undefined };

/** Facts or a rule that do not fit the module's kinds: a module's bug, never the service's. */
export class FactShapeError extends LeashError {
  constructor(message: string) {
    super('ERR_LEASH_MODULE', message);
    this.name = 'FactShapeError';
  }
}

export function createTree(kind: Kind): PolicyTree {
  return { kind, root: new PolicyNode() };
}

/** Learns one fact sequence. Returns `true` when the tree changed. */
export function add(tree: PolicyTree, facts: Facts): boolean {
  return addKeys(tree, facts.map(keyMapper(tree.kind, facts)));
}

/** Inserts a rule given as keys (already escaped or patterns), checking its shape. */
export function addRule(tree: PolicyTree, rule: Rule): boolean {
  checkShape(tree.kind, rule);
  return addKeys(tree, rule);
}

function keyMapper(root: Kind, facts: Facts): (fact: string, index: number) => string {
  let kind: Kind | null = root;
  return (fact, index) => {
    if (kind === null) {
      throw new FactShapeError(
        `fact sequence is longer than its kinds allow at position ${index}: ${JSON.stringify(facts)}`,
      );
    }
    const key = kind.key(fact);
    kind = kind.child(key);
    if (kind !== null && index === facts.length - 1) {
      throw new FactShapeError(
        `fact sequence ends before a rule does (next kind '${kind.name}'): ${JSON.stringify(facts)}`,
      );
    }
    return key;
  };
}

function checkShape(root: Kind, rule: Rule): void {
  let kind: Kind | null = root;
  for (let i = 0; i < rule.length; i++) {
    if (kind === null)
      throw new FactShapeError(`rule is longer than its kinds allow: ${JSON.stringify(rule)}`);
    kind = kind.child(rule[i]!);
  }
  if (kind !== null || rule.length === 0) {
    throw new FactShapeError(`rule ends before its kinds do: ${JSON.stringify(rule)}`);
  }
}

function addKeys(tree: PolicyTree, keys: Rule): boolean {
  let node = tree.root;
  let kind: Kind | null = tree.kind;
  let changed = false;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const next = node.children.get(key);
    if (next === undefined) changed = true;
    // A shared LEAF is replaced only when something goes below it.
    node =
      next !== undefined && (next !== LEAF || i === keys.length - 1)
        ? next
        : node.ensure(key, kind ?? undefined);
    kind = kind?.child(key) ?? null;
  }
  return changed;
}

/**
 * Whether the tree allows a concrete fact sequence. On refusal, `nearest` is the rule that shares
 * the longest prefix with the facts, for the error message.
 */
export function allows(
  tree: PolicyTree,
  facts: Facts,
  options: { nearest?: boolean } = {},
): Decision {
  const path: string[] = [];
  if (allowsFrom(tree.root, tree.kind, facts, 0, path)) return { allowed: true, rule: path };
  // Finding the nearest rule scans the tree; callers that only learn do not need it.
  return {
    allowed: false,
    nearest: options.nearest === false ? undefined : nearestRule(tree, facts),
  };
}

function allowsFrom(
  node: PolicyNode,
  kind: Kind,
  facts: Facts,
  i: number,
  path: string[],
): boolean {
  const fact = facts[i];
  if (fact === undefined) return false;
  const last = i === facts.length - 1;
  const exactKey = kind.key(fact);
  const exact = node.children.get(exactKey);
  if (exact !== undefined && step(exact, kind, exactKey, facts, i, last, path)) return true;
  for (const key of node.patternKeys(kind)) {
    const child = node.children.get(key)!;
    if (kind.matches(key, fact) && step(child, kind, key, facts, i, last, path)) return true;
  }
  return false;
}

function step(
  child: PolicyNode,
  kind: Kind,
  key: string,
  facts: Facts,
  i: number,
  last: boolean,
  path: string[],
): boolean {
  const next = kind.child(key);
  path.push(key);
  const ok = last ? next === null : next !== null && allowsFrom(child, next, facts, i + 1, path);
  if (!ok) path.pop();
  return ok;
}

// Scoring every rule is linear in the policy; refusals are rare, and the cap keeps a flood of
// refused calls against a huge policy cheap.
const NEAREST_SCAN_LIMIT = 2000;

/** The rule agreeing with the facts at the most positions (earlier positions break ties). */
function nearestRule(tree: PolicyTree, facts: Facts): Rule | undefined {
  let best: Rule | undefined;
  let bestScore = -1;
  let scanned = 0;
  const walk = (
    node: PolicyNode,
    kind: Kind | null,
    depth: number,
    path: string[],
    score: number,
  ): void => {
    if (scanned >= NEAREST_SCAN_LIMIT) return;
    if (node.children.size === 0 || kind === null) {
      scanned++;
      if (path.length > 0 && score > bestScore) {
        best = [...path];
        bestScore = score;
      }
      return;
    }
    const fact = facts[depth];
    for (const key of [...node.children.keys()].sort()) {
      // Weight earlier positions more: the same scope and package matter more than the resource.
      const hit = fact !== undefined && (key === kind.key(fact) || kind.matches(key, fact));
      path.push(key);
      walk(
        node.children.get(key)!,
        kind.child(key),
        depth + 1,
        path,
        score + (hit ? 2 ** (facts.length - depth) : 0),
      );
      path.pop();
    }
  };
  walk(tree.root, tree.kind, 0, [], 0);
  return bestScore > 0 ? best : undefined;
}

/** Every rule of the tree, in sorted key order. */
export function rules(tree: PolicyTree): Rule[] {
  return [...rulesFrom(tree.root, [])];
}

function* rulesFrom(node: PolicyNode, prefix: string[]): Generator<Rule> {
  if (node.children.size === 0) {
    if (prefix.length > 0) yield [...prefix];
    return;
  }
  for (const key of [...node.children.keys()].sort()) {
    prefix.push(key);
    yield* rulesFrom(node.children.get(key)!, prefix);
    prefix.pop();
  }
}

export function countRules(tree: PolicyTree): number {
  const count = (node: PolicyNode): number => {
    if (node.children.size === 0) return 1;
    let n = 0;
    node.children.forEach((child) => {
      n += count(child);
    });
    return n;
  };
  return tree.root.children.size === 0 ? 0 : count(tree.root);
}

/**
 * Makes `tree` hold exactly the rules of `source`, in place: the live tree a service checks
 * against is shared by reference, so learning swaps its contents for the saved (simplified) policy
 * instead of keeping every raw fact it ever saw.
 */
export function replaceContents(tree: PolicyTree, source: PolicyTree): void {
  tree.root.clear();
  mergeInto(tree.root, source.root);
  replacements.set(tree.root, generation(tree) + 1);
}

/** How often each tree's contents were replaced (a learning service's, at every flush). */
const replacements = new WeakMap<PolicyNode, number>();

/**
 * Which contents of `tree` are live: changes whenever `replaceContents` swaps them, never when
 * facts are added. A memo of decisions that only grow more permissive as facts are added (what
 * was allowed stays allowed) holds while this is unchanged.
 */
export function generation(tree: PolicyTree): number {
  return replacements.get(tree.root) ?? 0;
}

/**
 * Memory of decisions that holds for one generation of a tree (see generation): made afresh by
 * `make` when a flush replaced the tree's contents, or when `limit` entries were added to it.
 */
export class PerGeneration<T> {
  readonly #tree: PolicyTree;
  readonly #limit: number;
  readonly #make: () => T;
  #generation: number;
  #value: T;
  #count = 0;

  constructor(tree: PolicyTree, limit: number, make: () => T) {
    this.#tree = tree;
    this.#limit = limit;
    this.#make = make;
    this.#generation = generation(tree);
    this.#value = make();
  }

  /** The memory of the tree's current generation. */
  get current(): T {
    const now = generation(this.#tree);
    if (now !== this.#generation || this.#count >= this.#limit) {
      this.#generation = now;
      this.#value = this.#make();
      this.#count = 0;
    }
    return this.#value;
  }

  /** Whether the memory is still of the tree's current generation. */
  get fresh(): boolean {
    return generation(this.#tree) === this.#generation;
  }

  /** Counts one entry added to the current memory. */
  added(): void {
    this.#count++;
  }
}

export function clone(tree: PolicyTree): PolicyTree {
  const root = new PolicyNode();
  mergeInto(root, tree.root);
  return { kind: tree.kind, root };
}

// The walks over every node use `forEach` with the node as `this`: iterating a map's entries
// made an array per entry, and a closure per node would make one per leaf.

/** A copy to put under a key: a leaf is the shared LEAF. */
function copyOf(source: PolicyNode): PolicyNode {
  if (source.children.size === 0) return LEAF;
  const out = new PolicyNode();
  source.children.forEach(copyChild, out);
  return out;
}

/** A fresh node has no key to look up first, as `ensure` does. */
function copyChild(this: PolicyNode, child: PolicyNode, key: string): void {
  this.adopt(key, copyOf(child));
}

function mergeInto(target: PolicyNode, source: PolicyNode): void {
  source.children.forEach(mergeChild, target);
}

function mergeChild(this: PolicyNode, child: PolicyNode, key: string): void {
  const existing = this.children.get(key);
  if (existing === undefined || existing === LEAF) {
    if (existing === undefined || child.children.size > 0) this.adopt(key, copyOf(child));
  } else mergeInto(existing, child);
}

/** The union of two trees of the same module. */
export function merge(a: PolicyTree, b: PolicyTree): PolicyTree {
  const out = clone(a);
  mergeInto(out.root, b.root);
  return out;
}

/** Whether the tree grants everything a rule (a key path, possibly with patterns) grants. */
export function coversRule(tree: PolicyTree, rule: Rule): boolean {
  return coversFrom(tree.root, tree.kind, rule, 0);
}

function coversFrom(node: PolicyNode, kind: Kind, rule: Rule, i: number): boolean {
  const key = rule[i];
  if (key === undefined) return false;
  const last = i === rule.length - 1;
  const tryChild = (outerKey: string): boolean => {
    const next = kind.child(outerKey);
    if (last) return next === null;
    return next !== null && coversFrom(node.children.get(outerKey)!, next, rule, i + 1);
  };
  if (node.children.has(key) && tryChild(key)) return true;
  for (const outer of node.patternKeys(kind)) {
    if (outer !== key && kind.covers(outer, key) && tryChild(outer)) return true;
  }
  return false;
}

/** The rules of `a` that `b` does not grant, as a tree. */
export function subtract(a: PolicyTree, b: PolicyTree): PolicyTree {
  const out = createTree(a.kind);
  for (const rule of rulesFrom(a.root, [])) if (!coversRule(b, rule)) addKeys(out, rule);
  return out;
}

export interface TreeDiff {
  /** Rules of `b` that `a` does not grant: what moving from a to b would add. */
  readonly added: PolicyTree;
  /** Rules of `a` that `b` does not grant. */
  readonly removed: PolicyTree;
}

export function diff(a: PolicyTree, b: PolicyTree): TreeDiff {
  return { added: subtract(b, a), removed: subtract(a, b) };
}

export function equals(a: PolicyTree, b: PolicyTree): boolean {
  const same = (x: PolicyNode, y: PolicyNode): boolean => {
    if (x.children.size !== y.children.size) return false;
    for (const [key, child] of x.children) {
      const other = y.children.get(key);
      if (other === undefined || !same(child, other)) return false;
    }
    return true;
  };
  return same(a.root, b.root);
}

export function isEmpty(tree: PolicyTree): boolean {
  return tree.root.children.size === 0;
}

// Simplification loops until nothing changes; the bound only guards against a kind whose
// collapse never settles, which would be a bug in that kind.
const MAX_ROUNDS = 1000;

/**
 * Generalises siblings with each position's kind and drops rules that a sibling pattern already
 * grants. Sound (everything the input allows, the output allows) because a collapse is applied only
 * when its pattern covers every member, and idempotent because it runs to a fixed point.
 */
export function simplify(tree: PolicyTree, options: SimplifyOptions): PolicyTree {
  return { kind: tree.kind, root: simplifiedCopy(tree.root, tree.kind, options) };
}

/**
 * What copying `source` and then `simplifyNode` on the copy gives, with the first round of
 * collapses read off the source: a member is never copied, only left out (and merged into its
 * pattern when it has children). On a node of 100,000 files that collapse into one pattern,
 * copying each into a new map only to delete it again was most of simplify's work.
 */
function simplifiedCopy(source: PolicyNode, kind: Kind, options: SimplifyOptions): PolicyNode {
  const children = source.children;
  const copyChild = (key: string, child: PolicyNode): PolicyNode => {
    const next = kind.child(key);
    return next === null ? copyOf(child) : simplifiedCopy(child, next, options);
  };
  const out = new PolicyNode();
  let collapsed = false;
  if (children.size < 2) {
    children.forEach((child, key) => {
      out.adopt(key, copyChild(key, child));
    });
  } else {
    // applyCollapses, on the source's keys: a key is used once, as a member or as a pattern.
    const keys = [...children.keys()].sort();
    const removed = new Set<string>();
    /** Each pattern used, with its node: a new one, or the copy of the key already there. */
    const targets = new Map<string, PolicyNode>();
    for (const group of kind.collapse(keys, options)) {
      const pattern = group.pattern;
      const members = group.members.filter(
        (m) => m !== pattern && children.has(m) && !removed.has(m) && !targets.has(m),
      );
      if (members.length === 0) continue;
      if (!members.every((m) => kind.covers(pattern, m))) continue;
      if (targets.has(pattern) || removed.has(pattern)) continue;
      const existing = children.get(pattern);
      const copied = existing === undefined ? LEAF : copyChild(pattern, existing);
      // Members merge into it: a node of its own.
      const target = copied === LEAF ? new PolicyNode() : copied;
      targets.set(pattern, target);
      for (const m of members) {
        const child = children.get(m)!;
        if (child.children.size > 0) mergeInto(target, copyChild(m, child));
        removed.add(m);
      }
      const next = kind.child(pattern);
      if (next !== null) simplifyNode(target, next, options);
      collapsed = true;
    }
    // In the order the copy would have: the keys left, then the new patterns.
    children.forEach((child, key) => {
      if (!removed.has(key)) out.adopt(key, targets.get(key) ?? copyChild(key, child));
    });
    targets.forEach((target, key) => {
      if (!children.has(key)) out.adopt(key, target);
    });
  }
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (round > 0) collapsed = applyCollapses(out, kind, options);
    const subsumed = dropSubsumed(out, kind);
    if (!collapsed && !subsumed) return out;
  }
  throw new Error(`kind '${kind.name}' did not settle while simplifying`);
}

function simplifyNode(node: PolicyNode, kind: Kind, options: SimplifyOptions): void {
  node.children.forEach((child, key) => {
    const next = kind.child(key);
    if (next !== null) simplifyNode(child, next, options);
  });
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const collapsed = applyCollapses(node, kind, options);
    const subsumed = dropSubsumed(node, kind);
    if (!collapsed && !subsumed) return;
  }
  throw new Error(`kind '${kind.name}' did not settle while simplifying`);
}

function applyCollapses(node: PolicyNode, kind: Kind, options: SimplifyOptions): boolean {
  if (node.children.size < 2) return false;
  const keys = [...node.children.keys()].sort();
  // A key is used once, as a member or as a pattern. A used member left the node, so a key still
  // there was used only as a pattern: a set of the patterns (few) tells, where a set of every
  // member (all the keys, at worst) made much of simplify's garbage on wide nodes.
  const patterns = new Set<string>();
  const removed = (key: string) => !node.children.has(key) && sortedHas(keys, key);
  let changed = false;
  for (const group of kind.collapse(keys, options)) {
    const members = group.members.filter(
      (m) => m !== group.pattern && node.children.has(m) && !patterns.has(m),
    );
    if (members.length === 0) continue;
    // A kind that proposes a pattern not covering its members would widen nothing safely: skip.
    if (!members.every((m) => kind.covers(group.pattern, m))) continue;
    if (patterns.has(group.pattern) || removed(group.pattern)) continue;
    const target = node.ensure(group.pattern);
    for (const m of members) {
      mergeInto(target, node.children.get(m)!);
      node.remove(m);
    }
    patterns.add(group.pattern);
    const next = kind.child(group.pattern);
    if (next !== null) simplifyNode(target, next, options);
    changed = true;
  }
  return changed;
}

/** Whether `sorted` (in `Array.prototype.sort` order) holds `key`. */
function sortedHas(sorted: readonly string[], key: string): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && sorted[lo] === key;
}

function dropSubsumed(node: PolicyNode, kind: Kind): boolean {
  const patterns = [...node.patternKeys(kind)].sort();
  if (patterns.length === 0) return false;
  let changed = false;
  for (const key of [...node.children.keys()].sort()) {
    const inner = node.children.get(key)!;
    for (const outer of patterns) {
      if (outer === key || !node.children.has(outer) || !kind.covers(outer, key)) continue;
      const next = kind.child(outer);
      if (next === null || subtreeCovers(node.children.get(outer)!, inner, next)) {
        node.remove(key);
        changed = true;
        break;
      }
    }
  }
  return changed;
}

function subtreeCovers(outer: PolicyNode, inner: PolicyNode, kind: Kind): boolean {
  const outerTree: PolicyTree = { kind, root: outer };
  for (const rule of rulesFrom(inner, [])) if (!coversRule(outerTree, rule)) return false;
  return true;
}
