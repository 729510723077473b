/**
 * @module
 * The `undici` package used directly (`request`, `fetch`, `stream` from npm's undici, its Agent,
 * Pool and Client): every request enters a dispatcher's `dispatch(opts, handler)`, in the caller's
 * context and before anything is sent, so `DispatcherBase.prototype.dispatch` decides it there
 * (`net.connect` of its origin) — per request, also over a kept-alive socket. An Agent hands the
 * same `opts` to its Pool and the Pool to a Client, possibly later and in another context, so a
 * request is decided once, at the outermost dispatcher. A request is known by its `opts` or by its
 * handler with the same origin: the dispatcher Node's fetch goes through by default (the `.1`
 * global, a wrapper of the `.2` one) hands a copy of `opts` on, with the same handler. A refusal
 * is reported the way undici reports a request that fails synchronously: to the handler's
 * `onResponseError`.
 *
 * Node's own `fetch` runs on a copy of undici inside Node, whose global dispatcher the package
 * also uses by default (`Symbol.for('undici.globalDispatcher.1')` is shared): the runtime module
 * wraps that copy's `dispatch` too (wrap-http-client.ts).
 */
import { defineInstrumentation, type Instrumentation } from '../../instrument/instrumentation.ts';
import { wrap } from '../../instrument/shimmer.ts';
import { withDecidedConnect } from './decided-connects.ts';
import { endpoint } from './wrap-net.ts';

/** Decides an outbound endpoint in the caller's scope; throws ERR_LEASH_DENIED in enforce. */
export type ConnectCheck = (endpoint: string) => void;

interface Handler {
  onResponseError?(controller: unknown, error: unknown): void;
}

/** The endpoint of an origin (`http://127.0.0.1:8080`, or a URL), or undefined. */
function originEndpoint(origin: unknown): string | undefined {
  let url: URL;
  try {
    url = origin instanceof URL ? origin : new URL(String(origin));
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port;
  return endpoint(url.hostname.replace(/^\[(.*)\]$/, '$1'), port);
}

/** A Client's or Pool's own origin (undici keeps it under a private `url` symbol). */
function ownOrigin(dispatcher: object): unknown {
  const key = Object.getOwnPropertySymbols(dispatcher).find((s) => s.description === 'url');
  return key === undefined ? undefined : (dispatcher as Record<symbol, unknown>)[key];
}

/** Requests already decided (by an outer dispatcher, or by the fetch wrapper): their options. */
const decided = new WeakSet<object>();
/** The same requests' handlers, with the endpoint each was decided for. */
const decidedHandlers = new WeakMap<object, string>();

/**
 * Marks a dispatch as decided for `endpoint`, so inner dispatchers do not decide it again: its
 * options, and its handler for that endpoint.
 */
export function markDecided(opts: object, handler: unknown, endpoint: string): void {
  decided.add(opts);
  if (typeof handler === 'object' && handler !== null) decidedHandlers.set(handler, endpoint);
}

/**
 * Wraps `proto.dispatch` (an undici DispatcherBase's, the package's or the copy inside Node) to
 * decide each request once, in its caller's context, before anything is sent.
 */
export function wrapDispatch(proto: object, check: ConnectCheck): () => void {
  return wrap(
    proto,
    'dispatch',
    (original) =>
      function (this: unknown, ...args: unknown[]) {
        const opts = args[0] as { origin?: unknown } | null;
        if (typeof opts !== 'object' || opts === null || decided.has(opts))
          return original.apply(this, args);
        const to = originEndpoint(opts.origin ?? ownOrigin(this as object));
        if (to === undefined) return original.apply(this, args);
        const handler = args[1];
        if (typeof handler === 'object' && handler !== null && decidedHandlers.get(handler) === to)
          return original.apply(this, args);
        try {
          check(to);
        } catch (error) {
          const handler = args[1] as Handler | null;
          if (typeof handler?.onResponseError !== 'function') throw error;
          handler.onResponseError(null, error);
          return true;
        }
        markDecided(opts, handler, to);
        return withDecidedConnect(to, () => original.apply(this, args));
      },
  );
}

export function undiciInstrumentation(check: ConnectCheck): Instrumentation {
  return defineInstrumentation({
    package: 'undici',
    purpose: 'requests of the undici package, decided per request',
    consequence: 'its requests are checked only when a socket opens',
    failClosed: false,
    // undici 6.7 moved the dispatchers into lib/dispatcher/.
    files: [
      {
        file: 'lib/dispatcher-base.js',
        versions: '>=6.0.0 <6.7.0',
        patch: (exports) => wrapDispatch((exports as { prototype: object }).prototype, check),
      },
      {
        file: 'lib/dispatcher/dispatcher-base.js',
        versions: '>=6.7.0 <9',
        patch: (exports) => wrapDispatch((exports as { prototype: object }).prototype, check),
      },
    ],
  });
}
