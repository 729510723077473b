/**
 * @module
 * The header compiler: the deny-by-default learning policy, and the policy of one page route
 * compiled from the learned tree (what `enforce` sends, what `report` sends as Report-Only, and
 * what `leash policy show --module csp` / `leash export csp` print).
 *
 * A route's policy lists every fetch directive plus base-uri, form-action and frame-ancestors;
 * a directive nothing was learned for is `'none'`. Inline code is allowed by its hashes (with
 * `'unsafe-hashes'` when event handlers or style attributes were seen); a per-response nonce is
 * added when the service read it; `'strict-dynamic'` is added when a route's scripts are allowed
 * by hashes or a nonce alone, so that the scripts those load run too (with host sources beside
 * them it would switch the host sources off in CSP 3 browsers, so it is left out then).
 */
import type { PolicyTree, Rule } from '../../core/tree.ts';
import { rules } from '../../core/tree.ts';
import { SENT_DIRECTIVES } from './directives.ts';

export const REPORT_GROUP = 'leash-csp';

export interface Reporting {
  /** The report URL, tag included (`/__leash/csp-report?t=…`). */
  readonly url: string;
  /** Also `report-to` (default true). */
  readonly reportTo?: boolean;
}

/** `report-uri …; report-to leash-csp`, for the end of a policy. */
function reportingDirectives(reporting: Reporting | undefined): string[] {
  if (reporting === undefined) return [];
  const uri = `report-uri ${reporting.url}`;
  return reporting.reportTo === false ? [uri] : [uri, `report-to ${REPORT_GROUP}`];
}

/** The `Reporting-Endpoints` header value that names the report-to group. */
export function reportingEndpoints(reporting: Reporting): string {
  return `${REPORT_GROUP}="${reporting.url}"`;
}

/**
 * While learning: every fetch directive `'none'`, so every load of the page is reported; code
 * that carries the response's nonce is the service's own and is not reported.
 */
export function learningPolicy(reporting: Reporting, nonce?: string): string {
  const sources = (d: string) =>
    nonce !== undefined && (d === 'script-src' || d === 'style-src')
      ? `'nonce-${nonce}'`
      : "'none'";
  return [
    ...SENT_DIRECTIVES.map((d) => `${d} ${sources(d)}`),
    ...reportingDirectives(reporting),
  ].join('; ');
}

/** Learned sources of one route, directive → keys (route keys matched by the route kind). */
export function sourcesOf(tree: PolicyTree, route: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (rule: Rule) => {
    const [, directive, source] = rule;
    if (directive === undefined || source === undefined || source.startsWith('\\')) return;
    let set = out.get(directive);
    if (set === undefined) {
      set = new Set();
      out.set(directive, set);
    }
    set.add(source);
  };
  for (const rule of rules(tree)) if (tree.kind.matches(rule[0]!, route)) add(rule);
  return out;
}

/** The routes the tree has rules for. */
export function routesOf(tree: PolicyTree): string[] {
  return [...tree.root.children.keys()].sort();
}

const rank = (source: string) =>
  source.startsWith("'") ? (/^'sha\d+-/.test(source) ? 1 : 0) : /^[a-z]+:$/.test(source) ? 2 : 3;

function ordered(sources: Iterable<string>): string[] {
  return [...sources].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export interface CompileOptions {
  readonly reporting?: Reporting;
  /** A per-response nonce (base64) the service put in its pages. */
  readonly nonce?: string;
}

/** The policy of one page route, as a header value. */
export function compilePolicy(
  sources: ReadonlyMap<string, ReadonlySet<string>>,
  options: CompileOptions = {},
): string {
  const parts: string[] = [];
  for (const directive of SENT_DIRECTIVES) {
    const list = new Set(sources.get(directive) ?? []);
    list.delete("'none'");
    const inline = directive === 'script-src' || directive === 'style-src';
    if (inline && options.nonce !== undefined) list.add(`'nonce-${options.nonce}'`);
    if (directive === 'script-src' && list.size > 0) {
      const trusted = [...list].filter((s) => /^'(sha\d+|nonce)-/.test(s));
      const other = [...list].filter(
        (s) =>
          !/^'(sha\d+|nonce)-/.test(s) && !/^'unsafe-(hashes|eval)'$|^'wasm-unsafe-eval'$/.test(s),
      );
      if (trusted.length > 0 && other.length === 0) list.add("'strict-dynamic'");
    }
    if (inline && ![...list].some((s) => /^'sha\d+-/.test(s))) list.delete("'unsafe-hashes'");
    parts.push(`${directive} ${list.size === 0 ? "'none'" : ordered(list).join(' ')}`);
  }
  return [...parts, ...reportingDirectives(options.reporting)].join('; ');
}

/** Every route's policy as a header a person could paste into another server's config. */
export function exportPolicies(tree: PolicyTree): Array<{ route: string; header: string }> {
  return routesOf(tree).map((route) => ({
    route,
    header: `Content-Security-Policy: ${compilePolicy(sourcesOf(tree, route))}`,
  }));
}
