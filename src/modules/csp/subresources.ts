/**
 * @module
 * While learning: what a page's own scripts and stylesheets load, carried to every page route
 * whose HTML includes them. A browser reports each load under the page it visited, so a page that
 * shares a script with it but that no browser visited (a test client fetched its HTML) would be
 * enforced without what that script fetches: its first `fetch('/api/…')` would be blocked.
 *
 * Three things are linked, all seen while learning, in any order:
 * - a page route includes a subresource: its HTML names the script or stylesheet (inline.ts);
 * - a subresource loads `[directive, source]`: a browser's report names it as the report's
 *   source file (Chromium does for fetch, XHR, WebSocket and scripts a script inserts; not for
 *   `new Image()`), or the service served the stylesheet and its `url()`s were read;
 * - a subresource includes another (a script inserting a script, an `@import`).
 * Each route then learns, as ordinary facts of its own, what every subresource it includes loads.
 *
 * A subresource is named by its URL without query or fragment, and one of the page's own origin
 * by its path alone (`/static/app.js`), so a browser and a test client that reach the service
 * under different hosts still agree. The links live in the learning process only: a page and a
 * page that shares its script, learned in two runs (or two processes), are not linked. Memory is
 * bounded (MAX_RESOURCES, MAX_FACTS per subresource); past the bounds nothing more is linked.
 */

export type Fact = readonly [directive: string, source: string];

export interface SubresourceLinks {
  /** `route`'s HTML includes `resource` (a script or stylesheet). */
  include(route: string, resource: string): void;
  /** `resource` loaded `fact`; `child` when what it loaded is a script or stylesheet too. */
  load(resource: string, fact: Fact, child?: string): void;
}

export const MAX_RESOURCES = 2000;
export const MAX_FACTS = 256;

interface Node {
  readonly routes: Set<string>;
  readonly parents: Set<string>;
  readonly children: Set<string>;
  readonly facts: Map<string, Fact>;
}

/** `observe(route, fact)` is called for each fact a route gains through a link (repeats happen). */
export function createSubresourceLinks(
  observe: (route: string, fact: Fact) => void,
): SubresourceLinks {
  const nodes = new Map<string, Node>();
  const node = (resource: string): Node | undefined => {
    let found = nodes.get(resource);
    if (found === undefined) {
      if (nodes.size >= MAX_RESOURCES) return undefined;
      found = { routes: new Set(), parents: new Set(), children: new Set(), facts: new Map() };
      nodes.set(resource, found);
    }
    return found;
  };
  /** Every node reachable from `start` by `next` (start included), each once: cycles end. */
  const walk = (start: string, next: (n: Node) => Iterable<string>): Node[] => {
    const seen = new Set([start]);
    const queue = [start];
    const out: Node[] = [];
    for (let i = 0; i < queue.length; i++) {
      const current = nodes.get(queue[i]!);
      if (current === undefined) continue;
      out.push(current);
      for (const other of next(current)) {
        if (seen.has(other)) continue;
        seen.add(other);
        queue.push(other);
      }
    }
    return out;
  };
  const routesOf = (resource: string): Set<string> =>
    new Set(walk(resource, (n) => n.parents).flatMap((n) => [...n.routes]));
  const factsUnder = (resource: string): Fact[] =>
    walk(resource, (n) => n.children).flatMap((n) => [...n.facts.values()]);

  return {
    include(route, resource) {
      const target = node(resource);
      if (target === undefined || target.routes.has(route)) return;
      target.routes.add(route);
      for (const fact of factsUnder(resource)) observe(route, fact);
    },
    load(resource, fact, child) {
      const source = node(resource);
      if (source === undefined) return;
      const key = `${fact[0]} ${fact[1]}`;
      if (!source.facts.has(key) && source.facts.size < MAX_FACTS) {
        source.facts.set(key, fact);
        for (const route of routesOf(resource)) observe(route, fact);
      }
      if (child === undefined || child === resource || source.children.has(child)) return;
      const target = node(child);
      if (target === undefined) return;
      source.children.add(child);
      target.parents.add(resource);
      const facts = factsUnder(child);
      if (facts.length === 0) return;
      for (const route of routesOf(resource)) for (const f of facts) observe(route, f);
    },
  };
}

/**
 * The name of a subresource at `url` for a page at `pageUrl`: its path when it is of the page's
 * origin, else its origin and path; undefined for the page itself (its inline code is the page's
 * own) or a URL that is not http(s).
 */
export function resourceName(url: string, pageUrl: string): string | undefined {
  let resource: URL;
  let page: URL;
  try {
    resource = new URL(url, pageUrl);
    page = new URL(pageUrl);
  } catch {
    return undefined;
  }
  if (!/^https?:$/.test(resource.protocol)) return undefined;
  const sameOrigin = resource.origin === page.origin;
  if (sameOrigin && resource.pathname === page.pathname) return undefined;
  return sameOrigin ? resource.pathname : `${resource.origin}${resource.pathname}`;
}
