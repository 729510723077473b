/**
 * @module
 * Human-readable views of policies: an indented tree per module, colour only on a terminal
 * (`util.styleText` checks the stream and honours NO_COLOR / FORCE_COLOR).
 */
import { styleText } from 'node:util';
import type { Policy } from '../core/policy.ts';
import { countRules, PolicyNode } from '../core/tree.ts';
import type { ModuleRegistry } from '../module/module.ts';

type Style = Parameters<typeof styleText>[0];

export function paint(
  style: Style,
  text: string,
  stream: NodeJS.WriteStream = process.stdout,
): string {
  return styleText(style, text, { stream });
}

export interface ShowFilter {
  readonly module?: string;
  readonly scope?: string;
}

const POSITION_STYLES: readonly Style[] = ['bold', 'cyan', 'yellow', 'green'];

export function renderPolicy(
  policy: Policy,
  modules: ModuleRegistry,
  filter: ShowFilter = {},
): string {
  const lines: string[] = [];
  for (const name of [...policy.modules.keys()].sort()) {
    if (filter.module !== undefined && name !== filter.module) continue;
    const tree = policy.modules.get(name)!;
    const module = modules.get(name);
    const root = filterScope(tree.root, filter.scope);
    const count = countRules({ kind: tree.kind, root });
    if (count === 0) continue;
    const positions = module?.positions.join(' › ') ?? '';
    lines.push(
      `${paint('bold', name)}  ${paint('dim', `${count} rule${count === 1 ? '' : 's'} · ${positions}`)}`,
    );
    renderNode(root, 1, lines);
    for (const note of module?.notes?.({ kind: tree.kind, root }) ?? [])
      lines.push(`  ${paint('yellow', 'note')} ${note}`);
    lines.push('');
  }
  if (lines.length === 0) lines.push(paint('dim', 'no rules'));
  return lines.join('\n').trimEnd();
}

function filterScope(root: PolicyNode, scope: string | undefined): PolicyNode {
  if (scope === undefined) return root;
  const child = root.children.get(scope);
  const out = new PolicyNode();
  if (child !== undefined) out.adopt(scope, child);
  return out;
}

function renderNode(node: PolicyNode, depth: number, lines: string[]): void {
  const style = POSITION_STYLES[Math.min(depth - 1, POSITION_STYLES.length - 1)]!;
  for (const key of [...node.children.keys()].sort()) {
    lines.push(`${'  '.repeat(depth)}${paint(style, key)}`);
    renderNode(node.children.get(key)!, depth + 1, lines);
  }
}

/** Rules as one line each: `module: a › b › c`. */
export function renderRules(rules: ReadonlyArray<readonly [string, readonly string[]]>): string {
  return rules.map(([module, rule]) => `${module}: ${rule.join(' › ')}`).join('\n');
}
