/**
 * @module
 * Route templates for Fastify 5, without a change to the service. Fastify routes through
 * find-my-way, which it loads with `require`, so a require-in-the-middle hook patches the router
 * as it loads: each registered handler is wrapped to set the request's scope to its route
 * (`GET /notes/:id`, prefixes included) before Fastify runs any hook, and a lookup that matches no
 * route leaves the request `@unmatched`.
 *
 * Fastify's Reply (its internal lib/reply.js, which its entry requires even when the service
 * imports Fastify from ESM) gets a `cspNonce` getter that reads `reply.raw.cspNonce`, so a
 * service templates `reply.cspNonce` as an Express one does `res.locals.cspNonce`. A service that
 * has a `cspNonce` of its own keeps it: a decorator lands on Fastify's derived prototype, and a
 * value assigned to a reply (@fastify/helmet's nonces) becomes the reply's own property.
 *
 * Closed version ranges, as OpenTelemetry's instrumentations do: another major version is left
 * unpatched and reported. Without the getter a templated nonce is `undefined`, which no policy
 * allows, so an enforced page fails closed.
 */
import { join } from 'node:path';
import { Hook } from 'require-in-the-middle';
import { currentRequest, UNMATCHED } from '../../attribution/scope.ts';
import { unsupportedVersion } from '../../instrument/package-version.ts';

const SUPPORTED_MAJOR = 9;
const SUPPORTED_FASTIFY_MAJOR = 5;
const REPLY_FILE = join('fastify', 'lib', 'reply.js');

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

function addNonceGetter(proto: object): () => void {
  // Fastify may define the property itself one day; its own then stays.
  if (Object.hasOwn(proto, 'cspNonce')) return () => {};
  Object.defineProperty(proto, 'cspNonce', {
    configurable: true,
    get(this: { raw?: { cspNonce?: string } }) {
      // The csp module defines the nonce on the raw response (reading it marks it used); without
      // the csp module this is undefined.
      return this.raw?.cspNonce;
    },
    // Without a setter, Fastify's strict-mode assignment of a value decorator
    // (`decorateReply('cspNonce', null)`) would throw on every request.
    set(this: object, value: unknown) {
      Object.defineProperty(this, 'cspNonce', {
        value,
        writable: true,
        enumerable: true,
        configurable: true,
      });
    },
  });
  return () => {
    delete (proto as { cspNonce?: unknown }).cspNonce;
  };
}

/**
 * Hooks find-my-way and Fastify's Reply for the rest of the process; `warn` hears of an
 * unsupported version.
 */
export function instrumentFastify(warn: (message: string) => void): () => void {
  const restores: Array<() => void> = [];
  const replyHook = new Hook(['fastify'], { internals: true }, (exports, name, basedir) => {
    if (name !== REPLY_FILE) return exports;
    const unsupported = unsupportedVersion(
      basedir,
      'fastify',
      SUPPORTED_FASTIFY_MAJOR,
      'reply.cspNonce is not set (reply.raw.cspNonce is)',
    );
    if (unsupported !== undefined) {
      warn(unsupported);
      return exports;
    }
    const proto = (exports as { prototype?: object }).prototype;
    if (proto !== undefined) restores.push(addNonceGetter(proto));
    return exports;
  });
  const hook = new Hook(['find-my-way'], (exports, _name, basedir) => {
    const router = exports as { prototype?: RouterPrototype & { [PATCHED]?: true } };
    const unsupported = unsupportedVersion(
      basedir,
      'find-my-way',
      SUPPORTED_MAJOR,
      'Fastify routes are scoped by path, not by template',
    );
    if (unsupported !== undefined) {
      warn(unsupported);
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
    replyHook.unhook();
    for (const restore of restores.reverse()) restore();
  };
}
