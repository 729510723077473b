/**
 * @module
 * Runs every request of every `node:http`/`node:https` server inside its own request state, so
 * that each privilege use is attributed to the request's route. The route comes from the first
 * registered resolver that knows the server's framework; a plain server gets its normalised
 * method and path, which framework instrumentations (Express, Fastify) refine once their router
 * has seen the request.
 *
 * The request and response emitters are bound to the request's state, as OpenTelemetry's http
 * instrumentation binds them to the request's context: their events (`data`, `end`, `close`,
 * `finish`) arrive from the socket, in the connection's context, so a body parser that reads the
 * stream itself (raw-body, busboy, multer) or a handler that runs after the body arrived would
 * otherwise run in `@background`.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import {
  currentRequest,
  type RequestState,
  scopeSwitches,
  UNMATCHED,
} from '../../attribution/scope.ts';
import { privateSlot } from '../../instrument/private-slot.ts';
import { TOKEN_HEADER } from '../../isolate/gate.ts';
import { isolationHooks } from '../../isolate/worker/hooks.ts';
import { watchBody } from './body.ts';
import { normalisedRoute, pathParams } from './route-of.ts';

/**
 * Finds the route template of a request for one framework. Returns `undefined` when the server is
 * not served by that framework, `null` when it is but no route matches.
 */
export type RouteResolver = (
  server: http.Server,
  request: http.IncomingMessage,
) => string | null | undefined;

// Asked once here: every request event runs through it, so a caller check per call would cost a
// stack capture per event.
const { runInRequest } = scopeSwitches();

const resolvers: RouteResolver[] = [];

export function addRouteResolver(resolver: RouteResolver): () => void {
  resolvers.push(resolver);
  return () => {
    const at = resolvers.indexOf(resolver);
    if (at !== -1) resolvers.splice(at, 1);
  };
}

export function routeOf(server: http.Server, request: http.IncomingMessage): string {
  for (const resolver of resolvers) {
    const route = resolver(server, request);
    if (route === null) return UNMATCHED;
    if (route !== undefined) return route;
  }
  return normalisedRoute(request.method, request.url);
}

/**
 * Sees every request before the service does, inside its request state. Returns true when it
 * answered the request itself (the service then never sees it): leash's own endpoints, such as
 * the csp module's report endpoint.
 */
export type RequestInterceptor = (state: RequestState, server: http.Server) => boolean;

const interceptors: RequestInterceptor[] = [];

export function addRequestInterceptor(interceptor: RequestInterceptor): () => void {
  interceptors.push(interceptor);
  return () => {
    const at = interceptors.indexOf(interceptor);
    if (at !== -1) interceptors.splice(at, 1);
  };
}

type Emit = (this: unknown, event: string | symbol, ...args: unknown[]) => boolean;

/** What an emitter bound to a request emits with: the request's state, its own emit, the watcher. */
interface Binding {
  readonly state: RequestState;
  readonly emit: Emit;
  readonly see: ((event: string | symbol, first: unknown) => void) | undefined;
}

const bindings = privateSlot<Binding>();

// Node's own, kept here: an emitter's own `listenerCount`, which the service can replace, would
// decide whether its listeners run in the request.
const { emit: nodeEmit, listenerCount } = EventEmitter.prototype;

/**
 * The `emit` of every bound emitter: one function for all of them, its request in a private slot
 * of the emitter. A function made per request and set on the request object kept each request's
 * objects alive through V8's young-generation collections (promoted, then freed only by a full
 * collection: issue 14, the service's peak memory under load).
 */
function boundEmit(this: unknown, event: string | symbol): boolean {
  // `arguments`, not rest parameters: handed on whole with `Reflect.apply`, no array is made per
  // event (a request emits half a dozen; issue 14, what a request allocates).
  // biome-ignore lint/complexity/noArguments: the allocation-free way to pass every argument on
  const args = arguments;
  const binding = bindingOf(this);
  // Copied onto an object that is not a bound emitter: it emits as any emitter does.
  if (binding === undefined) return Reflect.apply(nodeEmit, this, args);
  const { state, emit, see } = binding;
  see?.(event, args[1]);
  // Most events are emitted by the request's own code: entering its state again would only
  // allocate a new context frame. An event no listener hears runs nothing that could ask for a
  // privilege either, when the emitter's `emit` is Node's own (one of its own may do more).
  if (currentRequest() === state || (emit === nodeEmit && listenerCount.call(this, event) === 0)) {
    return Reflect.apply(emit, this, args);
  }
  return runInRequest(state, () => Reflect.apply(emit, this, args));
}

/** The binding of `target`, or of the bound emitter it inherits from (`Object.create(request)`). */
function bindingOf(target: unknown): Binding | undefined {
  for (
    let at = target;
    typeof at === 'object' && at !== null;
    at = Object.getPrototypeOf(at) as unknown
  ) {
    const binding = bindings.get(at);
    if (binding !== undefined) return binding;
  }
  return undefined;
}

/**
 * Makes every event of `emitter` run its listeners in the request's state; `see` also hears
 * each event (the body watcher).
 */
function bindEmitter(
  emitter: unknown,
  state: RequestState,
  see?: (event: string | symbol, first: unknown) => void,
): void {
  if (typeof emitter !== 'object' || emitter === null) return;
  const target = emitter as { emit?: Emit };
  const emit = target.emit;
  if (typeof emit !== 'function') return;
  const bound = emit === boundEmit ? bindingOf(emitter) : undefined;
  if (bound !== undefined) {
    // Bound already (the request re-emitted to another server): its listeners keep running in
    // the first request state, as the innermost of two wrappers ran them; both watchers hear.
    const first = bound.see;
    const both =
      first === undefined || see === undefined
        ? (first ?? see)
        : (event: string | symbol, argument: unknown) => {
            see(event, argument);
            first(event, argument);
          };
    bindings.set(emitter, { state: bound.state, emit: bound.emit, see: both });
    return;
  }
  bindings.set(emitter, { state, emit, see });
  target.emit = boundEmit;
}

/**
 * The isolation token the supervisor added to a request it forwarded to this worker; taken off
 * the headers so the service does not log it or pass it on. Outside a worker, left alone.
 */
function takeToken(request: http.IncomingMessage): string | undefined {
  if (isolationHooks() === undefined) return undefined;
  const value = request.headers[TOKEN_HEADER];
  delete request.headers[TOKEN_HEADER];
  return typeof value === 'string' ? value : undefined;
}

/**
 * A request's state whose path-derived parts, the normalised route as its first scope and the
 * id-like path segments as params, are computed only if read: a framework sets its own route
 * template and params before anything reads them (Express, Fastify, Koa, Hapi), so for most
 * services they would be made for nothing on every request.
 */
class PathState implements RequestState {
  #scope: string | undefined;
  #params: Readonly<Record<string, string>> | undefined | null = null;
  readonly #method: string | undefined;
  readonly #url: string | undefined;
  readonly request: http.IncomingMessage;
  readonly response: unknown;
  declare principal?: unknown;
  declare framework?: object;
  declare body?: unknown;
  declare token?: string;
  declare routed?: boolean;

  constructor(request: http.IncomingMessage, response: unknown) {
    this.request = request;
    this.response = response;
    // As it arrived: a framework may rewrite `request.url` while a mounted router works on it.
    this.#method = request.method;
    this.#url = request.url;
  }

  get scope(): string {
    this.#scope ??= normalisedRoute(this.#method, this.#url);
    return this.#scope;
  }

  set scope(scope: string) {
    this.#scope = scope;
  }

  get params(): Readonly<Record<string, string>> | undefined {
    if (this.#params === null) this.#params = pathParams(this.#url);
    return this.#params;
  }

  set params(params: Readonly<Record<string, string>> | undefined) {
    this.#params = params;
  }
}

export function installHttpAdapter(): () => void {
  const restore: Array<() => void> = [];
  for (const proto of [http.Server.prototype, https.Server.prototype] as unknown as Array<{
    emit: Emit;
  }>) {
    const hadOwn = Object.hasOwn(proto, 'emit');
    const original = proto.emit;
    proto.emit = function (this: http.Server, event) {
      // biome-ignore lint/complexity/noArguments: handed on whole, as boundEmit does
      const args = arguments;
      if (event !== 'request') return Reflect.apply(original, this, args);
      const request = args[1] as http.IncomingMessage;
      const response: unknown = args[2];
      const state: RequestState =
        resolvers.length === 0
          ? new PathState(request, response)
          : { scope: routeOf(this, request), request, response };
      const token = takeToken(request);
      if (token !== undefined) state.token = token;
      const params = state instanceof PathState ? undefined : pathParams(request.url);
      if (params !== undefined) state.params = params;
      const body = watchBody(request.headers, (parsed) => {
        state.body = parsed;
      });
      bindEmitter(request, state, body?.see);
      bindEmitter(response, state);
      return runInRequest(state, () => {
        for (const intercept of interceptors) if (intercept(state, this)) return true;
        return Reflect.apply(original, this, args);
      });
    } as Emit;
    restore.push(() => {
      if (hadOwn) proto.emit = original;
      else delete (proto as { emit?: Emit }).emit;
    });
  }
  return () => {
    for (const undo of restore) undo();
  };
}
