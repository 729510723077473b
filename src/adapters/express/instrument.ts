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
import { join } from 'node:path';
import { Hook } from 'require-in-the-middle';
import { currentRequest, type RequestState, UNMATCHED } from '../../attribution/scope.ts';
import { supportedMajor } from '../../instrument/package-version.ts';
import { type ExpressMajor, expressRoute, type Layer } from './route-of.ts';

const APPLICATION_FILE = join('express', 'lib', 'application.js');
const SUPPORTED_MAJORS = [4, 5] as const;

interface App {
  handle(this: App, request: unknown, response: unknown, next?: unknown): unknown;
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

function patch(proto: App, major: ExpressMajor): () => void {
  const original = proto.handle;
  /** Requests an app resolved, and whether a route matched. */
  const resolved = new WeakMap<RequestState, boolean>();
  proto.handle = function (this: App, request, response, next) {
    const state = currentRequest();
    if (state !== undefined && state.request === request && resolved.get(state) !== true) {
      const req = request as Request;
      const mounted = resolved.has(state);
      const stack = stackOf(this, major);
      const route =
        stack === undefined
          ? null
          : expressRoute(
              stack,
              major,
              req.method ?? 'GET',
              req.url ?? '/',
              mounted ? (req.baseUrl ?? '') : '',
            );
      if (route !== null || !mounted) state.scope = route ?? UNMATCHED;
      resolved.set(state, route !== null);
    }
    return original.call(this, request, response, next);
  };
  return () => {
    proto.handle = original;
  };
}

/** Hooks Express for the rest of the process; `warn` hears of an unsupported version. */
export function instrumentExpress(warn: (message: string) => void): () => void {
  const restores: Array<() => void> = [];
  const hook = new Hook(['express'], { internals: true }, (exports, name, basedir) => {
    if (name !== APPLICATION_FILE) return exports;
    const major = supportedMajor(
      basedir,
      'express',
      SUPPORTED_MAJORS,
      'its requests are scoped by path, not by route template',
    );
    if (typeof major === 'string') {
      warn(major);
      return exports;
    }
    const proto = exports as App;
    if (typeof proto.handle === 'function') restores.push(patch(proto, major as ExpressMajor));
    return exports;
  });
  return () => {
    hook.unhook();
    for (const restore of restores.reverse()) restore();
  };
}
