/**
 * @module
 * A validated violation → the `[directive, source]` a person would write to allow it:
 * - a URL of the page's own origin → `'self'`;
 * - another origin: the origin for images, fonts, media, styles and the rest; for scripts the URL
 *   without query (the kind collapses three paths into their directory, or the origin), or the
 *   origin when the config says `csp.scriptSources: 'origin'`;
 * - `data:` and `blob:` → the scheme, only because one was seen;
 * - `eval` → `'unsafe-eval'`, `wasm-eval` → `'wasm-unsafe-eval'`, only because one was seen;
 * - `inline` → nothing: inline code is learned by hash from the HTML (inline.ts), never as
 *   `'unsafe-inline'`.
 * `script-src-elem`/`-attr` fold into `script-src` and `style-src-elem`/`-attr` into `style-src`,
 * the directives the compiled header uses.
 */
import { CSP_DIRECTIVES } from './directives.ts';
import type { Violation } from './report.ts';

const FOLD: Readonly<Record<string, string>> = {
  'script-src-elem': 'script-src',
  'script-src-attr': 'script-src',
  'style-src-elem': 'style-src',
  'style-src-attr': 'style-src',
};

const KEYWORDS: Readonly<Record<string, string>> = {
  eval: "'unsafe-eval'",
  'wasm-eval': "'wasm-unsafe-eval'",
  data: 'data:',
  blob: 'blob:',
  self: "'self'",
};

/** The directive a learned source goes under, or undefined for one leash does not learn. */
export function foldDirective(name: string): string | undefined {
  const folded = FOLD[name] ?? name;
  return (CSP_DIRECTIVES as readonly string[]).includes(folded) ? folded : undefined;
}

function originOf(text: string): string | undefined {
  try {
    const origin = new URL(text).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

export interface FactOptions {
  /** How a script of another origin is written: its URL (default) or its origin. */
  readonly scriptSources?: 'path' | 'origin';
}

/** `[directive, source]`, or undefined when the violation teaches nothing (inline, empty). */
export function violationFacts(
  v: Violation,
  options: FactOptions = {},
): [string, string] | undefined {
  const directive = foldDirective(v.directive);
  if (directive === undefined) return undefined;
  const blocked = v.blockedUrl.trim();
  const keyword = KEYWORDS[blocked.toLowerCase()];
  if (keyword !== undefined) {
    const isEval = keyword === "'unsafe-eval'" || keyword === "'wasm-unsafe-eval'";
    if (isEval && directive !== 'script-src') return undefined;
    return [directive, keyword];
  }
  if (blocked === '' || blocked === 'inline') return undefined;
  let url: URL;
  try {
    url = new URL(blocked);
  } catch {
    return undefined;
  }
  if (url.protocol === 'data:' || url.protocol === 'blob:') return [directive, url.protocol];
  if (!/^(https?|wss?):$/.test(url.protocol)) return undefined;
  const page = originOf(v.documentUrl);
  if (page !== undefined && url.origin === page) return [directive, "'self'"];
  if (directive === 'script-src' && options.scriptSources !== 'origin' && url.pathname !== '/') {
    return [directive, `${url.origin}${url.pathname}`];
  }
  return [directive, url.origin];
}
