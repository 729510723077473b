/**
 * @module
 * The header compiler: the deny-by-default learning policy, and the policy of one page route
 * compiled from the learned tree (what `enforce` sends, what `report` sends as Report-Only, and
 * what `leash policy show --module csp` / `leash export csp` print).
 *
 * A route's policy is default-src, base-uri, form-action and frame-ancestors plus every fetch
 * directive that says something else than the one it falls back to; a directive nothing was
 * learned for is `'none'`. Inline code is allowed by its hashes (with
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
  const values = new Map<string, string>();
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
    values.set(directive, list.size === 0 ? "'none'" : ordered(list).join(' '));
  }
  // A fetch directive that says what the browser would use in its place is left out: the
  // browser applies those sources to it all the same, and every response is shorter by it.
  const sent = new Set<string>();
  for (const directive of DECIDE_ORDER) {
    const fallback = FALLBACKS.get(directive)?.find((d) => sent.has(d));
    if (fallback === undefined || values.get(fallback) !== values.get(directive))
      sent.add(directive);
  }
  for (const [directive, value] of values)
    if (sent.has(directive)) parts.push(`${directive} ${value}`);
  return [...parts, ...reportingDirectives(options.reporting)].join('; ');
}

/**
 * What the browser uses for a fetch directive that is absent: the first of these that is present
 * (CSP Level 3, "get the effective directive" fallback lists). Directives the others fall back to
 * are decided first.
 */
const FALLBACKS: ReadonlyMap<string, readonly string[]> = new Map([
  ['script-src', ['default-src']],
  ['style-src', ['default-src']],
  ['img-src', ['default-src']],
  ['font-src', ['default-src']],
  ['connect-src', ['default-src']],
  ['media-src', ['default-src']],
  ['object-src', ['default-src']],
  ['manifest-src', ['default-src']],
  ['child-src', ['default-src']],
  ['frame-src', ['child-src', 'default-src']],
  ['worker-src', ['child-src', 'script-src', 'default-src']],
]);

const DECIDE_ORDER = [
  ...SENT_DIRECTIVES.filter((d) => d !== 'frame-src' && d !== 'worker-src'),
  'frame-src',
  'worker-src',
];

/** Every route's policy as a header a person could paste into another server's config. */
export function exportPolicies(tree: PolicyTree): Array<{ route: string; header: string }> {
  return routesOf(tree).map((route) => ({
    route,
    header: `Content-Security-Policy: ${compilePolicy(sourcesOf(tree, route))}`,
  }));
}
