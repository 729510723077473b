/**
 * @module
 * Route templates for Fastify 4 and 5, without a change to the service. Fastify routes through
 * find-my-way, which it loads with `require`, so the router is patched as it loads: each
 * registered handler is wrapped to set the request's scope to its route (`GET /notes/:id`,
 * prefixes included) before Fastify runs any hook, and a lookup that matches no route leaves the
 * request `@unmatched`.
 *
 * Fastify's Reply (its internal lib/reply.js, which its entry requires even when the service
 * imports Fastify from ESM) gets a `cspNonce` getter that reads `reply.raw.cspNonce`, so a
 * service templates `reply.cspNonce` as an Express one does `res.locals.cspNonce`. A service that
 * has a `cspNonce` of its own keeps it: a decorator lands on Fastify's derived prototype, and a
 * value assigned to a reply (@fastify/helmet's nonces) becomes the reply's own property. Without
 * the getter (another Fastify major) a templated nonce is `undefined`, which no policy allows, so
 * an enforced page fails closed.
 */
import { currentRequest, UNMATCHED } from '../../attribution/scope.ts';
import { defineInstrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';

type Handler = (this: unknown, ...args: unknown[]) => unknown;
type Constructor = new (...args: unknown[]) => object;

/**
 * Fastify's route context (find-my-way's `store`) makes each request's Fastify Request with
 * `new context.Request(...)`. Its constructor, wrapped once per context (Fastify settles it when
 * the server is ready, so at the first request), hands the object to the request's state: the
 * sql module reads params, query, body and the principal (`request.user`) there, not on the raw
 * request.
 */
const recording = new WeakSet<object>();

function recordRequests(context: unknown): void {
  const target = context as { Request?: Constructor } | null;
  const Request = target?.Request;
  if (typeof Request !== 'function' || recording.has(Request)) return;
  const recorder = new Proxy(Request, {
    construct(inner, args, newTarget) {
      const request = Reflect.construct(inner, args, newTarget) as object;
      const state = currentRequest();
      if (state !== undefined) state.framework = request;
      return request;
    },
  });
  recording.add(recorder);
  target!.Request = recorder;
}

function patchRouter(exports: unknown): () => void {
  const proto = (exports as { prototype?: Record<string, Handler> }).prototype;
  if (proto === undefined) return () => {};
  const restores = [
    wrap(
      proto,
      '_on',
      (original) =>
        function (this: unknown, ...args: unknown[]) {
          const [method, path, opts, handler, store] = args as [
            string | string[],
            string,
            unknown,
            Handler,
            unknown,
          ];
          // Fastify's not-found handlers live in a second router (fallback `fourOhFourFallBack`)
          // as `/*` routes: a request that reaches them matched no route and stays @unmatched.
          // (Fastify binds the fallback, so its name is `bound fourOhFourFallBack`.)
          const self = this as { defaultRoute?: { name?: string } };
          if (self.defaultRoute?.name?.endsWith('fourOhFourFallBack'))
            return original.apply(this, args);
          const methods = Array.isArray(method) ? method : [method];
          const wrapped: Handler = function (this: unknown, ...handlerArgs) {
            const state = currentRequest();
            const request = handlerArgs[0] as { method?: string };
            if (state !== undefined) {
              state.scope = `${request.method ?? methods[0]} ${path}`;
              recordRequests(handlerArgs[3]);
            }
            return handler.apply(this, handlerArgs);
          };
          return original.call(this, method, path, opts, wrapped, store);
        },
    ),
  ];
  const unmatchedFirst = (original: Handler): Handler =>
    function (this: unknown, ...args) {
      const state = currentRequest();
      if (state !== undefined) state.scope = UNMATCHED;
      return original.apply(this, args);
    };
  restores.push(wrap(proto, 'lookup', unmatchedFirst));
  if (typeof proto._lookupCompiled === 'function')
    restores.push(wrap(proto, '_lookupCompiled', unmatchedFirst));
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}

function addNonceGetter(exports: unknown): () => void {
  const proto = (exports as { prototype?: object }).prototype;
  // Fastify may define the property itself one day; its own then stays.
  if (proto === undefined || Object.hasOwn(proto, 'cspNonce')) return () => {};
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

export const findMyWayInstrumentation = defineInstrumentation({
  package: 'find-my-way',
  purpose: "Fastify's route templates, @unmatched",
  consequence: 'Fastify routes are scoped by path, not by template',
  failClosed: false,
  // From the find-my-way Fastify 4.0 accepts (^6.3.0; Fastify 4.0 to 4.25 use 6 and 7, 4.26 on
  // use 8) to the one of Fastify 5 (9).
  files: [{ file: '', versions: '>=6.3.0 <10', patch: patchRouter }],
});

export const fastifyInstrumentation = defineInstrumentation({
  package: 'fastify',
  purpose: '`reply.cspNonce`',
  consequence: 'reply.cspNonce is not set (reply.raw.cspNonce is)',
  failClosed: false,
  files: [{ file: 'lib/reply.js', versions: '>=4.0.0 <6', patch: addNonceGetter }],
});
