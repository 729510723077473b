/**
 * @module
 * Route templates for Koa (with @koa/router and koa-static), without a change to the service.
 * Koa builds its request handler with koa-compose (`compose(app.middleware)`), which its
 * application requires even when the service imports Koa from ESM; the composed function gets a
 * wrapper that, at the first composed dispatch of a request (the app's own), resolves the route
 * from that middleware list (route-of.ts) and sets the request's scope before any middleware
 * runs. The sql module then reads inputs from a view of Koa's context: `ctx.params`,
 * `ctx.query`, `ctx.request.body` (what body parsers set), headers, and `ctx.state` (where auth
 * middleware puts the user: `principal: 'ctx.state.user'`).
 */
import { currentRequest, UNMATCHED } from '../../attribution/scope.ts';
import { defineInstrumentation } from '../../instrument/instrumentation.ts';
import { wrapExport } from '../../instrument/shimmer.ts';
import { koaRoute } from './route-of.ts';

interface KoaContext {
  readonly req?: unknown;
  readonly method?: string;
  readonly path?: string;
  readonly params?: unknown;
  readonly query?: unknown;
  readonly headers?: unknown;
  readonly state?: Record<string, unknown>;
  readonly session?: unknown;
  readonly request?: { readonly body?: unknown };
}

/** What the sql module reads, where Koa keeps it. */
function inputsView(ctx: KoaContext): object {
  return {
    get params() {
      return ctx.params;
    },
    get query() {
      return ctx.query;
    },
    get body() {
      return ctx.request?.body;
    },
    get headers() {
      return ctx.headers;
    },
    get state() {
      return ctx.state;
    },
    get session() {
      return ctx.session;
    },
    get user() {
      return ctx.state?.user;
    },
  };
}

type Composed = (this: unknown, ctx: unknown, next?: unknown) => unknown;

function patchCompose(exports: unknown): { exports: unknown; restore: () => void } {
  // koa-compose's export is the function itself, so the export is replaced.
  return wrapExport(
    exports as (this: unknown, ...args: unknown[]) => unknown,
    (compose) =>
      function (this: unknown, ...args: unknown[]) {
        const middleware = args[0] as unknown[];
        const composed = compose.apply(this, args) as Composed;
        return function (this: unknown, ctx: unknown, next?: unknown) {
          const state = currentRequest();
          const koa = ctx as KoaContext;
          if (state !== undefined && koa?.req === state.request && state.routed === undefined) {
            const route = koaRoute(middleware, koa.method ?? 'GET', koa.path ?? '/');
            state.routed = route !== null;
            state.scope = route ?? UNMATCHED;
            state.framework = inputsView(koa);
          }
          return composed.call(this, ctx, next);
        };
      },
  );
}

export const koaComposeInstrumentation = defineInstrumentation({
  package: 'koa-compose',
  purpose: 'Koa route templates (@koa/router), koa-static mounts, inputs from `ctx`',
  consequence: 'Koa requests are scoped by path, not by route template',
  failClosed: false,
  files: [{ file: '', versions: '>=4.0.0 <5', patch: patchCompose }],
});
