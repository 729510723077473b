/**
 * @module
 * Outbound HTTP decided per request, not per socket: keep-alive agents and fetch's pool reuse a
 * socket across requests and routes, so a check when the socket opens would let a route reach a
 * host another route warmed up, and learning would miss every later call.
 *
 * - `http`/`https` clients (`http.get`, `http.request`, axios, got, node-fetch, SDKs): every
 *   ClientRequest hands itself to its agent's `addRequest` synchronously in its constructor, in
 *   the caller's context and before any byte is written, so that is where it is decided. A refusal
 *   is reported the way a failed connect is: an `error` event on the request.
 * - `fetch` (Node's undici): each request, redirects included, goes through the dispatcher's
 *   `dispatch`, so fetch gets a dispatcher that decides each dispatch before delegating to the
 *   one it would have used. A refusal rejects fetch (`TypeError: fetch failed`, the refusal as
 *   its cause) before anything is sent.
 *
 * - `http2.connect`: the session's socket is checked when it opens, like any connection; each
 *   `session.request(...)` is decided again in its caller's scope, since a session outlives the
 *   route that opened it. A refusal throws, as `request` does on a session it cannot use.
 *
 * Diagnostics channels (`http.client.request.start`, `undici:request:create`) cannot refuse (a
 * subscriber's throw becomes an uncaughtException), so both decisions are made in wrappers.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { syncBuiltinESMExports } from 'node:module';
import type { Caller } from '../../attribution/package-of.ts';
import { isWrapped } from '../../instrument/shimmer.ts';
import type { RuntimeContext } from './context.ts';
import { withDecidedConnect } from './decided-connects.ts';
import { markDecided, wrapDispatch } from './undici.ts';
import { endpoint } from './wrap-net.ts';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

interface AgentRequestOptions {
  readonly host?: string | null;
  readonly hostname?: string | null;
  readonly port?: number | string | null;
  readonly socketPath?: string | null;
  readonly path?: string | null;
  readonly defaultPort?: number;
}

interface RequestLike {
  onSocket(socket: unknown, error?: unknown): void;
}

/** The host:port a ClientRequest goes to, or undefined for a unix socket. */
function agentTarget(
  agent: { defaultPort?: number },
  options: AgentRequestOptions,
): string | undefined {
  if (options.socketPath != null) return undefined;
  const host = options.host ?? options.hostname ?? 'localhost';
  const port = options.port ?? options.defaultPort ?? agent.defaultPort ?? 80;
  // ClientRequest keeps IPv6 literals of a URL in brackets.
  return endpoint(host.replace(/^\[(.*)\]$/, '$1'), port);
}

/** The endpoint of a dispatch's origin (`http://127.0.0.1:8080`), or undefined. */
function originTarget(origin: unknown): string | undefined {
  let url: URL;
  try {
    url = new URL(String(origin));
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : url.port;
  return endpoint(url.hostname.replace(/^\[(.*)\]$/, '$1'), port);
}

interface Dispatcher {
  dispatch(options: { origin?: unknown }, handler: unknown): boolean;
}

type FetchInput = Parameters<typeof fetch>[0];

const GLOBAL_DISPATCHER = Symbol.for('undici.globalDispatcher.1');
const GLOBAL_DISPATCHER_2 = Symbol.for('undici.globalDispatcher.2');

export function wrapHttpClient(context: RuntimeContext): () => void {
  const agentProto = http.Agent.prototype as unknown as Record<string, AnyFunction>;
  const originalAddRequest = agentProto.addRequest!;
  const originalCreateSocket = agentProto.createSocket!;
  /** The endpoint each request was decided for, so the agent may open its socket later. */
  const decidedFor = new WeakMap<object, string>();

  agentProto.addRequest = function (this: { defaultPort?: number }, ...args: unknown[]) {
    const request = args[0] as RequestLike;
    const options = (args[1] ?? {}) as AgentRequestOptions;
    const target = agentTarget(this, options);
    if (target !== undefined) {
      try {
        context.check('net.connect', target);
      } catch (error) {
        // What the agent itself does when a socket cannot be created: the request emits `error`.
        request.onSocket(null, error);
        return undefined;
      }
      decidedFor.set(request, target);
    }
    return withDecided(request, () => originalAddRequest.apply(this, args));
  } as AnyFunction;

  // A queued request gets its socket when another frees a slot, in that one's context.
  agentProto.createSocket = function (this: unknown, ...args: unknown[]) {
    return withDecided(args[0] as object, () => originalCreateSocket.apply(this, args));
  } as AnyFunction;

  function withDecided<T>(request: object, fn: () => T): T {
    const target = decidedFor.get(request);
    return target === undefined ? fn() : withDecidedConnect(target, fn);
  }

  /**
   * The callers of the fetch calls in progress (their synchronous part), innermost last; undefined
   * where the frame below the fetch wrapper was not the service's. A fetch's first dispatch
   * usually happens within it, through the checking dispatcher below, with only Node's undici
   * frames between: the caller read right below the wrapper is then the one a look from the
   * dispatch would find after walking them all. A dispatch later (a redirect) looks the usual way.
   */
  const fetchCallers: Array<Caller | undefined> = [];

  const checking = new WeakMap<Dispatcher, Dispatcher>();
  const checkingDispatcher = (inner: Dispatcher): Dispatcher => {
    let wrapper = checking.get(inner);
    if (wrapper === undefined) {
      wrapper = new Proxy(inner, {
        get(target, property) {
          if (property !== 'dispatch') {
            const value = Reflect.get(target, property, target);
            return typeof value === 'function' ? value.bind(target) : value;
          }
          return (options: { origin?: unknown }, handler: unknown) => {
            const to = originTarget(options.origin);
            if (to === undefined) return target.dispatch(options, handler);
            context.check('net.connect', to, undefined, fetchCallers[fetchCallers.length - 1]);
            markDecided(options, handler, to);
            return withDecidedConnect(to, () => target.dispatch(options, handler));
          };
        },
      });
      checking.set(inner, wrapper);
    }
    return wrapper;
  };

  const originalFetch = globalThis.fetch;
  const fetchDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'fetch');
  const wrappedFetch = function fetch(input: unknown, init?: Record<string, unknown>) {
    const inner = (init?.dispatcher ??
      (globalThis as Record<symbol, unknown>)[GLOBAL_DISPATCHER]) as Dispatcher | undefined;
    if (inner === undefined || typeof inner.dispatch !== 'function') {
      const response = originalFetch(input as FetchInput, init as RequestInit);
      wrapGlobalDispatchers();
      return response;
    }
    const options = { ...init, dispatcher: checkingDispatcher(inner) } as RequestInit;
    fetchCallers.push(context.packages.callerBelow(wrappedFetch));
    try {
      return originalFetch(input as FetchInput, options);
    } finally {
      fetchCallers.pop();
    }
  };
  Object.defineProperty(globalThis, 'fetch', {
    value: wrappedFetch,
    writable: true,
    enumerable: fetchDescriptor?.enumerable ?? true,
    configurable: true,
  });

  // The global dispatchers of Node's own undici (`.2`, and the `.1` wrapper kept for older
  // copies), which the undici package also uses when they exist before it loads: the dispatch of
  // each one's class decides every request made through it. Node makes them at the first fetch,
  // so they are looked for now and after each fetch (once wrapped, a look is a property read).
  const restoreDispatch: Array<() => void> = [];
  const wrapGlobalDispatchers = (): void => {
    for (const symbol of [GLOBAL_DISPATCHER_2, GLOBAL_DISPATCHER]) {
      let proto = Object.getPrototypeOf((globalThis as Record<symbol, unknown>)[symbol] ?? null) as
        | object
        | null;
      while (proto !== null && !Object.hasOwn(proto, 'dispatch'))
        proto = Object.getPrototypeOf(proto);
      if (proto !== null && !isWrapped((proto as { dispatch: unknown }).dispatch))
        restoreDispatch.push(wrapDispatch(proto, (to) => context.check('net.connect', to)));
    }
  };
  wrapGlobalDispatchers();

  const originalConnect = http2.connect;
  http2.connect = function (this: unknown, ...args: unknown[]) {
    const session = (originalConnect as unknown as AnyFunction).apply(this, args) as {
      request: AnyFunction;
    };
    const to = originTarget(args[0] instanceof URL ? args[0].href : args[0]);
    if (to !== undefined && typeof session.request === 'function') {
      const request = session.request;
      session.request = function (this: unknown, ...requestArgs: unknown[]) {
        context.check('net.connect', to);
        return request.apply(this, requestArgs);
      };
    }
    return session;
  } as typeof http2.connect;
  syncBuiltinESMExports();

  return () => {
    for (const restore of restoreDispatch) restore();
    http2.connect = originalConnect;
    syncBuiltinESMExports();
    agentProto.addRequest = originalAddRequest;
    agentProto.createSocket = originalCreateSocket;
    if (fetchDescriptor !== undefined) Object.defineProperty(globalThis, 'fetch', fetchDescriptor);
  };
}
