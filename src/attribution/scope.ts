/**
 * @module
 * The scope of a privilege use: the route template of the request being served, `@startup` before
 * the service listens, `@background` for work outside any request. Carried by AsyncLocalStorage,
 * so callbacks, promises and timers started by a request stay in its scope.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { calledFromLeash } from './caller.ts';

export const STARTUP = '@startup';
export const BACKGROUND = '@background';
export const UNMATCHED = '@unmatched';
/**
 * Not a scope a call runs in, but where the module loader's reads are granted: loading a module
 * is the process's doing, whichever request happens to need it first (a lazy `require`).
 */
export const LOADER = '@loader';
/**
 * Where a database driver's connections are granted: a pool opens and reopens them (after an idle
 * timeout, say) in whichever request needs one next, so they are the process's, not a route's.
 * What each route may send over them is the sql module's to decide.
 */
export const POOL = '@pool';

/** Per-request state; adapters refine `scope` once the router has picked a route. */
export interface RequestState {
  scope: string;
  /** Set by adapters once authentication has run (the sql module reads it). */
  principal?: unknown;
  /** The request object of the framework, for modules that read inputs. */
  readonly request: unknown;
  /** The response, so per-request memory can be dropped when it closes. */
  readonly response?: unknown;
  /**
   * The framework's own request object when it is not `request` (Fastify's Request, which
   * holds params, query, body and what auth plugins set, such as `request.user`).
   */
  framework?: object;
  /** Path parameters of a service without a router (`:id` segments of its normalised path). */
  params?: Readonly<Record<string, string>> | undefined;
  /** A JSON or form body leash read from the request stream, for services that parse their own. */
  body?: unknown;
  /** In an isolated worker: the token the supervisor issued for this request. */
  token?: string;
  /**
   * Set by a framework adapter once an app's router resolved the request: true when a route
   * matched, false when none did (a sub-app mounted under it may still find one). A field, not a
   * WeakMap keyed by the state: a WeakMap entry per request is a hash insertion and lookup on
   * every request, and its value outlives young-generation collections (private-slot.ts).
   */
  routed?: boolean;
}

const storage = new AsyncLocalStorage<RequestState>();
let phase: typeof STARTUP | typeof BACKGROUND = STARTUP;

export function currentRequest(): RequestState | undefined {
  return storage.getStore();
}

export function currentScope(): string {
  return storage.getStore()?.scope ?? phase;
}

export interface ScopeSwitches {
  /** Runs `fn` as the handling of one request. */
  runInRequest<T>(state: RequestState, fn: () => T): T;
  /** Runs `fn` outside any request (e.g. leash's own timers), so nothing is attributed to one. */
  runOutsideRequest<T>(fn: () => T): T;
}

const LIVE: ScopeSwitches = {
  runInRequest: (state, fn) => storage.run(state, fn),
  runOutsideRequest: (fn) => storage.exit(fn),
};
const INERT: ScopeSwitches = {
  runInRequest: (_state, fn) => fn(),
  runOutsideRequest: (fn) => fn(),
};

/**
 * The scope switches, for a file of leash's own to keep in a private binding: asked once, when
 * that file loads, so the caller check (a stack capture) is paid per file instead of per request
 * event. Asked by any other file (the service's code can import this one by path), they do nothing.
 */
export function scopeSwitches(): ScopeSwitches {
  return calledFromLeash(scopeSwitches) ? LIVE : INERT;
}

/** `runInRequest` for callers that are not on a hot path; checks its caller on every call. */
export function runInRequest<T>(state: RequestState, fn: () => T): T {
  // The service's code cannot pick its own scope by importing this file.
  if (!calledFromLeash(runInRequest)) return fn();
  return storage.run(state, fn);
}

/** `runOutsideRequest` for callers that are not on a hot path; checks its caller on every call. */
export function runOutsideRequest<T>(fn: () => T): T {
  if (!calledFromLeash(runOutsideRequest)) return fn();
  return storage.exit(fn);
}

/** Called when the service starts listening: from now on, work outside requests is background. */
export function markListening(): void {
  phase = BACKGROUND;
}
