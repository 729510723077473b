/**
 * @module
 * Route templates for Hapi 21, without a change to the service. Hapi's Request (its internal
 * lib/request.js, which its entry requires even when the service imports Hapi from ESM) looks
 * its route up in `_lookup()`, before any extension point or handler of the route runs; the
 * wrapper then sets the request's scope to the route (`GET /notes/{id}`, Hapi's own syntax), or
 * `@unmatched` for Hapi's not-found route. The sql module reads inputs from a view of Hapi's
 * request: `params`, `query`, the parsed `payload` as the body, headers, `auth` and `app`, and a
 * `user` the service sets (else the authenticated credentials).
 */
import { currentRequest, UNMATCHED } from '../../attribution/scope.ts';
import { defineInstrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';

interface HapiRequest {
  readonly method?: string;
  readonly route?: { readonly method?: string; readonly path?: string };
  readonly raw?: { readonly req?: unknown };
  readonly params?: unknown;
  readonly query?: unknown;
  readonly payload?: unknown;
  readonly headers?: unknown;
  readonly auth?: { readonly credentials?: unknown };
  readonly app?: unknown;
  readonly user?: unknown;
}

/** What the sql module reads, where Hapi keeps it. */
function inputsView(request: HapiRequest): object {
  return {
    get params() {
      return request.params;
    },
    get query() {
      return request.query;
    },
    get body() {
      return request.payload;
    },
    get headers() {
      return request.headers;
    },
    get auth() {
      return request.auth;
    },
    get app() {
      return request.app;
    },
    get user() {
      return request.user ?? request.auth?.credentials;
    },
  };
}

function patchLookup(exports: unknown): () => void {
  return wrap(
    (exports as { prototype: object }).prototype,
    '_lookup',
    (original) =>
      function (this: unknown, ...args: unknown[]) {
        const result = original.apply(this, args);
        const request = this as HapiRequest;
        const state = currentRequest();
        if (state !== undefined && request.raw?.req === state.request) {
          const route = request.route;
          // Hapi's not-found handler is a special route of method `_special`.
          state.scope =
            route?.path === undefined || route.method === '_special'
              ? UNMATCHED
              : `${(request.method ?? 'get').toUpperCase()} ${route.path}`;
          state.framework = inputsView(request);
        }
        return result;
      },
  );
}

export const hapiInstrumentation = defineInstrumentation({
  package: '@hapi/hapi',
  purpose: 'route templates, @unmatched, inputs from the request',
  consequence: 'its requests are scoped by path, not by route template',
  failClosed: false,
  files: [{ file: 'lib/request.js', versions: '>=21.0.0 <22', patch: patchLookup }],
});
