/**
 * @module
 * Lint: rules broader than simplification would ever produce (a hand-written `/**`, `*.com`, a
 * `*` scope). Each position's kind judges its own keys.
 */
import type { Kind, SimplifyOptions } from './kind.ts';
import type { Policy } from './policy.ts';
import type { PolicyNode } from './tree.ts';

export interface LintWarning {
  readonly module: string;
  /** Keys from the root down to the flagged key. */
  readonly path: readonly string[];
  readonly message: string;
}

export function lintPolicy(policy: Policy, options: SimplifyOptions): LintWarning[] {
  const out: LintWarning[] = [];
  for (const name of [...policy.modules.keys()].sort()) {
    const tree = policy.modules.get(name)!;
    walk(
      tree.root,
      tree.kind,
      [],
      (path, message) => out.push({ module: name, path, message }),
      options,
    );
  }
  return out;
}

function walk(
  node: PolicyNode,
  kind: Kind,
  path: string[],
  warn: (path: readonly string[], message: string) => void,
  options: SimplifyOptions,
): void {
  for (const key of [...node.children.keys()].sort()) {
    const at = [...path, key];
    const message = kind.breadth(key, options);
    if (message !== undefined) warn(at, message);
    const next = kind.child(key);
    if (next !== null) walk(node.children.get(key)!, next, at, warn, options);
  }
}
