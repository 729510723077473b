/**
 * @module
 * A policy: one tree per module, under a format version. The operations lift the tree operations
 * over modules; a module missing on one side is an empty tree.
 */

import { LeashError } from '../errors.ts';
import type { Kind, SimplifyOptions } from './kind.ts';
import type { PolicyTree, Rule } from './tree.ts';
import * as tree from './tree.ts';

export const POLICY_VERSION = 1;

export interface Policy {
  readonly version: typeof POLICY_VERSION;
  /** Module name → tree; sorted by name when serialised. */
  readonly modules: ReadonlyMap<string, PolicyTree>;
}

/** Something that knows each module's root kind (a module registry does). */
export type RootKinds = ReadonlyMap<string, { readonly root: Kind }>;

export function emptyPolicy(): Policy {
  return { version: POLICY_VERSION, modules: new Map() };
}

export function policyOf(entries: Iterable<readonly [string, PolicyTree]>): Policy {
  return { version: POLICY_VERSION, modules: new Map(entries) };
}

function zip(
  a: Policy,
  b: Policy,
  both: (x: PolicyTree, y: PolicyTree) => PolicyTree,
): Map<string, PolicyTree> {
  const out = new Map<string, PolicyTree>();
  for (const name of new Set([...a.modules.keys(), ...b.modules.keys()])) {
    const x = a.modules.get(name);
    const y = b.modules.get(name);
    const kind = (x ?? y)!.kind;
    out.set(name, both(x ?? tree.createTree(kind), y ?? tree.createTree(kind)));
  }
  return out;
}

export function merge(a: Policy, b: Policy): Policy {
  return { version: POLICY_VERSION, modules: zip(a, b, tree.merge) };
}

export function subtract(a: Policy, b: Policy): Policy {
  return { version: POLICY_VERSION, modules: dropEmpty(zip(a, b, tree.subtract)) };
}

export interface PolicyDiff {
  /** What `b` grants that `a` does not. */
  readonly added: Policy;
  /** What `a` grants that `b` does not. */
  readonly removed: Policy;
}

export function diff(a: Policy, b: Policy): PolicyDiff {
  return { added: subtract(b, a), removed: subtract(a, b) };
}

export function simplify(policy: Policy, options: SimplifyOptions): Policy {
  const modules = new Map<string, PolicyTree>();
  for (const [name, t] of policy.modules) modules.set(name, tree.simplify(t, options));
  return { version: POLICY_VERSION, modules };
}

export function equals(a: Policy, b: Policy): boolean {
  const names = new Set([...a.modules.keys(), ...b.modules.keys()]);
  for (const name of names) {
    const x = a.modules.get(name);
    const y = b.modules.get(name);
    const xEmpty = x === undefined || tree.isEmpty(x);
    const yEmpty = y === undefined || tree.isEmpty(y);
    if (xEmpty && yEmpty) continue;
    if (x === undefined || y === undefined || !tree.equals(x, y)) return false;
  }
  return true;
}

export function isEmpty(policy: Policy): boolean {
  for (const t of policy.modules.values()) if (!tree.isEmpty(t)) return false;
  return true;
}

export function countRules(policy: Policy): number {
  let n = 0;
  for (const t of policy.modules.values()) n += tree.countRules(t);
  return n;
}

/** Every rule, as `[module, rule]`, modules in name order. */
export function allRules(policy: Policy): Array<readonly [string, Rule]> {
  const out: Array<readonly [string, Rule]> = [];
  for (const name of [...policy.modules.keys()].sort()) {
    for (const rule of tree.rules(policy.modules.get(name)!)) out.push([name, rule]);
  }
  return out;
}

/** The tree of one module, created empty when absent (the policy must be mutable to learn). */
export function treeFor(
  modules: Map<string, PolicyTree>,
  name: string,
  kinds: RootKinds,
): PolicyTree {
  let t = modules.get(name);
  if (t === undefined) {
    const module = kinds.get(name);
    if (module === undefined)
      throw new LeashError('ERR_LEASH_MODULE', `unknown module ${JSON.stringify(name)}`);
    t = tree.createTree(module.root);
    modules.set(name, t);
  }
  return t;
}

function dropEmpty(modules: Map<string, PolicyTree>): Map<string, PolicyTree> {
  for (const [name, t] of modules) if (tree.isEmpty(t)) modules.delete(name);
  return modules;
}
