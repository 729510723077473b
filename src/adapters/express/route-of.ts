/**
 * @module
 * The route template of a request to an Express 5 app (`GET /notes/:id`), found before Express
 * runs by walking the app's router stack with the same matchers Express uses (router 2's pure
 * `Layer.match`). Resolving up front attributes what middleware does (sessions, body parsing)
 * to the route too. Nested routers add their mount path; a path no route handles is unmatched.
 */
import type http from 'node:http';

interface Layer {
  match(path: string): false | { path: string; pattern: unknown };
  route?: { _handlesMethod(method: string): boolean };
  handle?: { stack?: Layer[] };
}

interface ExpressApp {
  (request: http.IncomingMessage, response: http.ServerResponse): void;
  handle: unknown;
  router: { stack: Layer[] };
  settings: unknown;
}

function isExpressApp(listener: unknown): listener is ExpressApp {
  return (
    typeof listener === 'function' &&
    typeof (listener as Partial<ExpressApp>).handle === 'function' &&
    typeof (listener as Partial<ExpressApp>).settings === 'object'
  );
}

const appOf = new WeakMap<http.Server, ExpressApp | false>();

/** Finds the Express app serving a server (cached), or false. */
function expressAppOf(server: http.Server): ExpressApp | false {
  let app = appOf.get(server);
  if (app === undefined) {
    app = (server.listeners('request').find(isExpressApp) as ExpressApp | undefined) ?? false;
    appOf.set(server, app);
  }
  return app;
}

function patternText(pattern: unknown): string {
  if (typeof pattern === 'string') return pattern === '/' ? '' : pattern;
  return String(pattern);
}

function resolve(
  stack: readonly Layer[],
  method: string,
  path: string,
  prefix: string,
): string | null {
  for (const layer of stack) {
    const match = layer.match(path);
    if (match === false) continue;
    if (layer.route !== undefined) {
      if (layer.route._handlesMethod(method))
        return `${method} ${prefix}${patternText(match.pattern) || '/'}`;
      continue;
    }
    const inner = layer.handle?.stack;
    if (inner !== undefined) {
      const rest = path.slice(match.path.length);
      const found = resolve(
        inner,
        method,
        rest.startsWith('/') ? rest : `/${rest}`,
        prefix + patternText(match.pattern),
      );
      if (found !== null) return found;
    }
  }
  return null;
}

/** A route resolver for the node:http adapter. */
export function expressRoute(
  server: http.Server,
  request: http.IncomingMessage,
): string | null | undefined {
  const app = expressAppOf(server);
  if (app === false) return undefined;
  const method = request.method ?? 'GET';
  const path = (request.url ?? '/').split('?', 1)[0] || '/';
  return resolve(app.router.stack, method, path, '');
}
