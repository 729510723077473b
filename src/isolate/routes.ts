/**
 * @module
 * The dispatcher's route table: the route templates the policy names (`GET /notes/:id`,
 * `GET /static/*`, Hapi's `GET /notes/{id}`), matched against a request's method and path the way
 * the frameworks match them closely enough to pick the worker group. The most specific template
 * wins (a literal segment beats a parameter, a parameter beats a trailing wildcard), so
 * `GET /notes/shared` is not taken for `GET /notes/:id`, and `/notes` is `GET /notes`, not
 * `GET /notes/*` with an empty wildcard.
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
  return { route, method: m[1]!, segments: compiled };
}

interface SegmentMatch {
  readonly params: Record<string, string>;
  /** Per path part, the kind of segment that took it: literal 3, parameter 2, wildcard 1. */
  readonly kinds: readonly number[];
  /** Segments that took no part (an empty wildcard, an absent optional parameter). */
  readonly unused: number;
}

function matchSegments(
  segments: readonly Segment[],
  parts: readonly string[],
): SegmentMatch | undefined {
  const params: Record<string, string> = {};
  const kinds: number[] = [];
  let unused = 0;
  let i = 0;
  for (const segment of segments) {
    if (segment.kind === 'rest') {
      params[segment.name] = parts.slice(i).join('/');
      if (i === parts.length) unused++;
      for (; i < parts.length; i++) kinds.push(1);
      return { params, kinds, unused };
    }
    const part = parts[i];
    if (part === undefined) {
      if (segment.kind === 'param' && segment.optional) {
        unused++;
        continue;
      }
      return undefined;
    }
    if (segment.kind === 'literal') {
      if (segment.text !== part) return undefined;
      kinds.push(3);
    } else {
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        return undefined;
      }
      params[segment.name] = value;
      kinds.push(2);
    }
    i++;
  }
  return i === parts.length ? { params, kinds, unused } : undefined;
}

/**
 * Which of two matches of the same path is more specific: the first path part taken by a more
 * specific kind of segment decides; then the one that needed fewer empty segments (`/notes` is
 * `GET /notes`, not `GET /notes/*` with an empty wildcard). Negative: `a` wins.
 */
function compareMatches(a: SegmentMatch, b: SegmentMatch): number {
  for (let i = 0; i < a.kinds.length; i++) {
    const d = (b.kinds[i] ?? 0) - a.kinds[i]!;
    if (d !== 0) return d;
  }
  return a.unused - b.unused;
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
    .sort((a, b) => a.route.localeCompare(b.route));
  return {
    routes: compiled.map((r) => r.route),
    match(method, path) {
      const bare = path.split('?')[0]!;
      const parts = bare.split('/').slice(1);
      if (parts.at(-1) === '') parts.pop();
      // HEAD is answered by GET routes in every framework leash supports.
      for (const wanted of method === 'HEAD' ? ['HEAD', 'GET'] : [method]) {
        let best: { route: string; match: SegmentMatch } | undefined;
        for (const route of compiled) {
          if (route.method !== wanted) continue;
          const match = matchSegments(route.segments, parts);
          if (match !== undefined && (best === undefined || compareMatches(match, best.match) < 0))
            best = { route: route.route, match };
        }
        if (best !== undefined) return { route: best.route, params: best.match.params };
      }
      return undefined;
    },
  };
}
