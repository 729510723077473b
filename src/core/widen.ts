/**
 * @module
 * Widening one rule by hand, for `leash policy review`/`widen`: the answer to "this slot was
 * learned from too few values" or "this route reads any file of that directory" without approving
 * everything a route did. An SQL slot becomes `*`; a file path becomes its directory's `*`, only
 * where simplification itself may put a wildcard (never in `/`, a system or a home directory).
 */
import { LeashError } from '../errors.ts';
import type { SimplifyOptions } from './kind.ts';
import { escapePath, parseGlob, WILDCARD } from './kinds/glob.ts';
import { wildcardAllowedIn } from './kinds/path.ts';
import { clone, type PolicyNode, type PolicyTree } from './tree.ts';

/** Why a rule cannot be widened: a usage mistake, reported as such. */
const usage = (message: string) => new LeashError('ERR_LEASH_USAGE', message);

export interface Widened {
  readonly tree: PolicyTree;
  /** The keys replaced, and the key that replaces them. */
  readonly from: readonly string[];
  readonly to: string;
}

export function widen(
  tree: PolicyTree,
  keys: readonly string[],
  options: SimplifyOptions,
): Widened {
  const out = clone(tree);
  let node: PolicyNode = out.root;
  let kind = out.kind;
  let parent: PolicyNode | undefined;
  for (const key of keys) {
    if (!node.children.has(key))
      throw usage(`no rule ${keys.join(' › ')} (no key ${JSON.stringify(key)} there)`);
    // `ensure`: the copy's own node, which may be changed (a copied leaf is shared).
    const child = node.ensure(key);
    const next = kind.child(key);
    if (key === keys[keys.length - 1]) {
      parent = node;
      node = child;
      break;
    }
    if (next === null) throw usage(`the rule ends before ${keys.join(' › ')}`);
    node = child;
    kind = next;
  }
  const last = keys[keys.length - 1]!;
  if (parent === undefined) throw usage('name the rule to widen');
  if (kind.name === 'sql-slot') {
    const from = [...node.children.keys()].sort();
    for (const key of from) node.remove(key);
    node.ensure('*');
    return { tree: out, from, to: '*' };
  }
  if (kind.name === 'path') {
    const glob = parseGlob(last);
    const dirSegments = glob.segments.slice(0, -1);
    if (dirSegments.some((s) => s.kind === 'globstar' || s.parts.includes(WILDCARD)))
      throw usage(`${last} is already a pattern over directories`);
    const dir = `/${dirSegments.map((s) => (s.kind === 'part' ? s.parts.join('') : '')).join('/')}`;
    if (!wildcardAllowedIn(dir, options))
      throw usage(
        `leash never widens into ${dir}: not inside a configured root, or a system or home directory`,
      );
    const to = `${dir === '/' ? '' : escapePath(dir)}/*`;
    parent.ensure(to);
    parent.remove(last);
    return { tree: out, from: [last], to };
  }
  throw usage(
    `widen names an SQL slot (sql › scope › template › $n) or a file path (runtime › scope › package › fs.read|fs.write › path), not a ${kind.name}`,
  );
}
