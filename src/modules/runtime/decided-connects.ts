/**
 * @module
 * Connections already decided at the request level. An HTTP agent or a fetch dispatcher may open
 * the socket of a request later, in whatever context frees a slot in its pool (another request's,
 * or none); the request itself was decided in its caller's scope, so the socket-level check of
 * that one endpoint, made while the pool opens it for that request, is skipped. Only the endpoint
 * decided, and only during that synchronous call: a service cannot widen it.
 */
const decided: string[] = [];

/** Runs `fn` (which may open a socket to `endpoint` for an already decided request). */
export function withDecidedConnect<T>(endpoint: string, fn: () => T): T {
  decided.push(endpoint);
  try {
    return fn();
  } finally {
    decided.pop();
  }
}

export function isDecidedConnect(endpoint: string): boolean {
  return decided.length > 0 && decided[decided.length - 1] === endpoint;
}
