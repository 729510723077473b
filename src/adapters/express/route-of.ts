/**
 * @module
 * The route template of a request to an Express 4 or 5 app (`GET /notes/:id`), found before
 * Express runs any middleware by walking the app's router stack with Express's own matchers.
 * Resolving up front attributes what middleware does (sessions, body parsing) to the route too.
 * Nested routers add their mount path. A path no route handles but a static-file middleware's
 * mount covers (`express.static`, serve-static) is that mount's one scope (`GET /assets/*`), never
 * one per file; any other path is unmatched.
 *
 * Express 5 (router 2) has a pure `Layer.match` that also returns the pattern. Express 4's
 * `Layer.match` stores its result on the shared layer, so the layer's own regular expression is
 * run instead, with match indices, and the template is the matched text with each parameter's
 * span written as `:name`.
 */

/** A layer of either version, as far as resolution needs it. */
export interface Layer {
  match(path: string): unknown;
  route?: { _handlesMethod?(method: string): boolean; _handles_method?(method: string): boolean };
  handle?: { stack?: Layer[]; name?: string };
  /** Express 4 only. */
  regexp?: RegExp & { fast_slash?: boolean; fast_star?: boolean };
  /** Express 5 (router 2): a middleware mounted at `/`, which matches every path. */
  slash?: boolean;
  rawPath?: unknown;
  keys?: ReadonlyArray<{ name: string | number }>;
}

/** What a layer matched: the text consumed and its template. */
interface Matched {
  readonly path: string;
  readonly template: string;
}

function patternText(pattern: unknown): string {
  if (typeof pattern === 'string') return pattern === '/' ? '' : pattern;
  return String(pattern);
}

/** What a middleware mounted at `/` matches: any path, consuming none. */
const SLASH: Matched = { path: '', template: '' };

/** Express 5 (router 2): `match` is pure and names the pattern. */
function matchV5(layer: Layer, path: string): Matched | undefined {
  // Router 2 answers a `/` mount with fresh objects (`params`, `keys`) for every path: the same
  // answer, made once. Most middleware (body parsers, sessions) is mounted so.
  if (layer.slash === true && layer.rawPath === '/') return SLASH;
  const match = layer.match(path) as false | { path: string; pattern: unknown };
  if (match === false) return undefined;
  return { path: match.path, template: patternText(match.pattern) };
}

const withIndices = new WeakMap<RegExp, RegExp>();

/** Express 4: the layer's regexp, with each parameter's matched span replaced by `:name`. */
function matchV4(layer: Layer, path: string): Matched | undefined {
  const regexp = layer.regexp;
  if (regexp === undefined) return undefined;
  if (regexp.fast_slash) return { path: '', template: '' };
  if (regexp.fast_star) return { path, template: '*' };
  let indexed = withIndices.get(regexp);
  if (indexed === undefined) {
    indexed = new RegExp(regexp.source, `${regexp.flags.replace(/[gyd]/g, '')}d`);
    withIndices.set(regexp, indexed);
  }
  const match = indexed.exec(path);
  if (match === null) return undefined;
  // Express consumes as much of the path as the match is long, from its start, even where the
  // match starts later: path-to-regexp 0.1 leaves a top-level `|` unanchored, so json-server-auth's
  // `/users|register|signup` matches `/register` as `register`. The template is written over the
  // path from its start, so that it is the path as requested (`/register`), as a route must be.
  const end = match.index + match[0].length;
  let template = '';
  let at = 0;
  const keys = layer.keys ?? [];
  for (let i = 1; i < match.length; i++) {
    const span = match.indices?.[i];
    if (span === undefined || span[0] < at) continue;
    template += `${path.slice(at, span[0])}:${keys[i - 1]?.name ?? i - 1}`;
    at = span[1];
  }
  template += path.slice(at, end);
  return { path: match[0], template: template === '/' ? '' : template };
}

function handlesMethod(layer: Layer, method: string): boolean {
  const route = layer.route!;
  if (typeof route._handlesMethod === 'function') return route._handlesMethod(method);
  if (typeof route._handles_method === 'function') return route._handles_method(method);
  return false;
}

function isStatic(layer: Layer): boolean {
  return layer.route === undefined && layer.handle?.name === 'serveStatic';
}

export type ExpressMajor = 4 | 5;

interface Found {
  route: string | null;
  /** The first static-file mount whose prefix matched, as a scope. */
  static: string | null;
}

function walk(
  stack: readonly Layer[],
  major: ExpressMajor,
  method: string,
  path: string,
  prefix: string,
  found: Found,
): void {
  const match = major === 4 ? matchV4 : matchV5;
  for (const layer of stack) {
    const matched = match(layer, path);
    if (matched === undefined) continue;
    if (layer.route !== undefined) {
      if (handlesMethod(layer, method)) {
        found.route = `${method} ${prefix}${matched.template || '/'}`;
        return;
      }
      continue;
    }
    if (isStatic(layer)) {
      // serve-static answers GET and HEAD only; other methods pass through it.
      if (found.static === null && (method === 'GET' || method === 'HEAD'))
        found.static = `${method} ${prefix}${matched.template}/*`;
      continue;
    }
    const inner = layer.handle?.stack;
    if (inner !== undefined) {
      const rest = path.slice(matched.path.length);
      walk(
        inner,
        major,
        method,
        rest.startsWith('/') ? rest : `/${rest}`,
        prefix + matched.template,
        found,
      );
      if (found.route !== null) return;
    }
  }
}

/**
 * The scope of a request to an app whose router stack is `stack`: a route template, a static
 * mount's scope, or null when nothing matches. `prefix` is the template of the app's mount path.
 */
export function expressRoute(
  stack: readonly Layer[],
  major: ExpressMajor,
  method: string,
  url: string,
  prefix = '',
): string | null {
  const path = url.split('?', 1)[0] || '/';
  const found: Found = { route: null, static: null };
  walk(stack, major, method, path, prefix, found);
  return found.route ?? found.static;
}
