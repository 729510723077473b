/**
 * @module
 * Route templates for Express 4 and 5, without a change to the service. Express's
 * `lib/application.js` (which its entry requires even when the service imports Express from ESM)
 * gets a wrapped `app.handle`: the first Express app that handles a request resolves its route
 * (route-of.ts) and sets the request's scope before any middleware runs. Wrapping `handle`
 * rather than looking for the app among a server's `request` listeners finds the app also when
 * another library wrapped the listener (socket.io, an APM) or when it is mounted in another
 * framework. A sub-app mounted with `app.use('/admin', admin)` refines a request its parent left
 * unmatched, under the mount's path.
 */
import major from 'semver/functions/major.js';
import { currentRequest, UNMATCHED } from '../../attribution/scope.ts';
import { defineInstrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';
import { type ExpressMajor, expressRoute, type Layer } from './route-of.ts';

interface App {
  _router?: { stack?: Layer[] };
  router?: { stack?: Layer[] };
}

interface Request {
  method?: string;
  url?: string;
  baseUrl?: string;
}

function stackOf(app: App, major: ExpressMajor): readonly Layer[] | undefined {
  // Express 4's `app.router` is a getter that throws; its router is `_router`, made lazily.
  return major === 4 ? app._router?.stack : app.router?.stack;
}

function patchHandle(proto: object, major: ExpressMajor): () => void {
  return wrap(
    proto,
    'handle',
    (original) =>
      function (this: unknown, ...args: unknown[]) {
        const state = currentRequest();
        const request = args[0] as Request;
        if (state !== undefined && state.request === request && state.routed !== true) {
          const mounted = state.routed !== undefined;
          const stack = stackOf(this as App, major);
          const route =
            stack === undefined
              ? null
              : expressRoute(
                  stack,
                  major,
                  request.method ?? 'GET',
                  request.url ?? '/',
                  mounted ? (request.baseUrl ?? '') : '',
                );
          if (route !== null || !mounted) state.scope = route ?? UNMATCHED;
          state.routed = route !== null;
        }
        return original.apply(this, args);
      },
  );
}

export const expressInstrumentation = defineInstrumentation({
  package: 'express',
  purpose: 'route templates, static-file mounts',
  consequence: 'its requests are scoped by path, not by route template',
  failClosed: false,
  files: [
    {
      file: 'lib/application.js',
      // Express before 4.11 cannot answer a request on the Node leash runs on (its `req.fresh`
      // reads `res._headers`, which Node removed), so no version below it is claimed.
      versions: '>=4.11.0 <6',
      patch: (exports, version) => patchHandle(exports as object, major(version) as 4 | 5),
    },
  ],
});
