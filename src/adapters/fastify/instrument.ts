/**
 * @module
 * Route templates for Fastify 5, without a change to the service. Fastify routes through
 * find-my-way, which it loads with `require`, so a require-in-the-middle hook patches the router
 * as it loads: each registered handler is wrapped to set the request's scope to its route
 * (`GET /notes/:id`, prefixes included) before Fastify runs any hook, and a lookup that matches no
 * route leaves the request `@unmatched`. Closed version range, as OpenTelemetry's
 * instrumentations do: another major version is left unpatched and reported.
 */
import { Hook } from 'require-in-the-middle';
import { currentRequest, UNMATCHED } from '../../attribution/scope.ts';
import { packageVersion } from '../../instrument/package-version.ts';

const SUPPORTED_MAJOR = 9;

type Handler = (this: unknown, ...args: unknown[]) => unknown;
interface RouterPrototype {
  _on(
    this: unknown,
    method: string | string[],
    path: string,
    opts: unknown,
    handler: Handler,
    store: unknown,
  ): unknown;
  lookup: Handler;
  _lookupCompiled?: Handler;
}

const PATCHED = Symbol.for('leash.find-my-way.patched');

function patch(proto: RouterPrototype): () => void {
  const originalOn = proto._on;
  const originalLookup = proto.lookup;
  const originalCompiled = proto._lookupCompiled;
  proto._on = function (
    this: { defaultRoute?: { name?: string } },
    method,
    path,
    opts,
    handler,
    store,
  ) {
    // Fastify's not-found handlers live in a second router (fallback `fourOhFourFallBack`) as
    // `/*` routes: a request that reaches them matched no route and stays @unmatched. (Fastify
    // binds the fallback, so its name is `bound fourOhFourFallBack`.)
    if (this.defaultRoute?.name?.endsWith('fourOhFourFallBack'))
      return originalOn.call(this, method, path, opts, handler, store);
    const methods = Array.isArray(method) ? method : [method];
    const wrapped: Handler = function (this: unknown, ...args) {
      const state = currentRequest();
      const request = args[0] as { method?: string };
      if (state !== undefined) state.scope = `${request.method ?? methods[0]} ${path}`;
      return handler.apply(this, args);
    };
    return originalOn.call(this, method, path, opts, wrapped, store);
  };
  const unmatchedFirst = (original: Handler): Handler =>
    function (this: unknown, ...args) {
      const state = currentRequest();
      if (state !== undefined) state.scope = UNMATCHED;
      return original.apply(this, args);
    };
  proto.lookup = unmatchedFirst(originalLookup);
  if (originalCompiled !== undefined) proto._lookupCompiled = unmatchedFirst(originalCompiled);
  return () => {
    proto._on = originalOn;
    proto.lookup = originalLookup;
    if (originalCompiled !== undefined) proto._lookupCompiled = originalCompiled;
  };
}

/** Hooks find-my-way for the rest of the process; `warn` hears of an unsupported version. */
export function instrumentFastify(warn: (message: string) => void): () => void {
  const restores: Array<() => void> = [];
  const hook = new Hook(['find-my-way'], (exports, _name, basedir) => {
    const router = exports as { prototype?: RouterPrototype & { [PATCHED]?: true } };
    const version = packageVersion(basedir);
    const major = Number(version?.split('.')[0]);
    if (major !== SUPPORTED_MAJOR) {
      warn(
        `find-my-way ${version ?? '(unknown version)'} is not supported (${SUPPORTED_MAJOR}.x is): Fastify routes are scoped by path, not by template`,
      );
      return exports;
    }
    if (router.prototype !== undefined && router.prototype[PATCHED] !== true) {
      restores.push(patch(router.prototype));
      router.prototype[PATCHED] = true;
      restores.push(() => {
        delete router.prototype![PATCHED];
      });
    }
    return exports;
  });
  return () => {
    hook.unhook();
    for (const restore of restores.reverse()) restore();
  };
}
