/**
 * @module
 * The dispatcher's route table: the route templates the policy names (`GET /notes/:id`,
 * `GET /static/*`, Hapi's `GET /notes/{id}`), matched against a request's method and path the way
 * the frameworks match them closely enough to pick the worker group. The most specific template
 * wins (a literal segment beats a parameter, a parameter beats a trailing wildcard), so
 * `GET /notes/shared` is not taken for `GET /notes/:id`.
 */

export interface RouteMatch {
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
}

type Segment =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'param'; readonly name: string; readonly optional: boolean }
  | { readonly kind: 'rest'; readonly name: string };

interface CompiledRoute {
  readonly route: string;
  readonly method: string;
  readonly segments: readonly Segment[];
  /** Higher is more specific. */
  readonly score: number;
}

const SCOPE = /^([A-Z]+) (\/.*)$/;

function segmentOf(text: string): Segment {
  let m = /^:([\w$]+)(\?)?$/.exec(text) ?? /^\{([\w$]+)(\?)?\}$/.exec(text);
  if (m !== null) return { kind: 'param', name: m[1]!, optional: m[2] === '?' };
  m = /^\*([\w$]*)$/.exec(text) ?? /^\{\*([\w$]+)\}$/.exec(text) ?? /^\{([\w$]+)\*\}$/.exec(text);
  if (m !== null) return { kind: 'rest', name: m[1] || '*' };
  return { kind: 'literal', text };
}

function compile(route: string): CompiledRoute | undefined {
  const m = SCOPE.exec(route);
  if (m === null) return undefined;
  const segments = m[2]!.split('/').slice(1);
  if (segments.at(-1) === '') segments.pop();
  const compiled = segments.map(segmentOf);
  let score = 0;
  for (const s of compiled)
    score = score * 4 + (s.kind === 'literal' ? 3 : s.kind === 'param' ? 2 : 1);
  return { route, method: m[1]!, segments: compiled, score: score * 64 + compiled.length };
}

function matchSegments(
  segments: readonly Segment[],
  parts: readonly string[],
): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let i = 0;
  for (const segment of segments) {
    if (segment.kind === 'rest') {
      params[segment.name] = parts.slice(i).join('/');
      return params;
    }
    const part = parts[i];
    if (part === undefined) {
      if (segment.kind === 'param' && segment.optional) continue;
      return undefined;
    }
    if (segment.kind === 'literal') {
      if (segment.text !== part) return undefined;
    } else {
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        return undefined;
      }
      params[segment.name] = value;
    }
    i++;
  }
  return i === parts.length ? params : undefined;
}

export interface RouteTable {
  readonly routes: readonly string[];
  match(method: string, path: string): RouteMatch | undefined;
}

/** A table of the scopes that are routes (`METHOD /path`); `@` scopes are not. */
export function routeTable(scopes: Iterable<string>): RouteTable {
  const compiled = [...new Set(scopes)]
    .map(compile)
    .filter((r): r is CompiledRoute => r !== undefined)
    .sort((a, b) => b.score - a.score || a.route.localeCompare(b.route));
  return {
    routes: compiled.map((r) => r.route),
    match(method, path) {
      const bare = path.split('?')[0]!;
      const parts = bare.split('/').slice(1);
      if (parts.at(-1) === '') parts.pop();
      // HEAD is answered by GET routes in every framework leash supports.
      for (const wanted of method === 'HEAD' ? ['HEAD', 'GET'] : [method]) {
        for (const route of compiled) {
          if (route.method !== wanted) continue;
          const params = matchSegments(route.segments, parts);
          if (params !== undefined) return { route: route.route, params };
        }
      }
      return undefined;
    },
  };
}
