/**
 * @module
 * The route template of a request to a Koa app, found before any middleware runs from the app's
 * middleware list: each @koa/router `routes()` middleware carries its router (`.router`), whose
 * pure `match(path, method)` gives the matched layers; the last one with methods is the route
 * (`GET /notes/:id`, prefixes and nested routers included, as @koa/router sets
 * `ctx._matchedRoute`). A path no route handles but koa-static serves is one scope (`GET /*`);
 * anything else is unmatched.
 */

interface RouterLayer {
  readonly path: string;
  readonly methods: readonly string[];
}

interface Router {
  match(path: string, method: string): { pathAndMethod: RouterLayer[]; route: boolean };
}

type Middleware = ((...args: unknown[]) => unknown) & { router?: Router };

export function koaRoute(
  middleware: readonly unknown[],
  method: string,
  path: string,
): string | null {
  let statics = false;
  for (const entry of middleware) {
    const fn = entry as Middleware;
    if (typeof fn !== 'function') continue;
    const router = fn.router;
    if (router !== undefined && typeof router.match === 'function') {
      const matched = router.match(path, method);
      if (!matched.route) continue;
      const layer = matched.pathAndMethod.findLast((l) => l.methods.length > 0);
      if (layer !== undefined) return `${method} ${layer.path || '/'}`;
    } else if (fn.name === 'serve') statics = true;
  }
  // koa-static answers GET and HEAD only.
  return statics && (method === 'GET' || method === 'HEAD') ? `${method} /*` : null;
}
