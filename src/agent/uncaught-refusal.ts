/**
 * @module
 * A refusal fails the request, never the service. In enforce mode a refused use throws
 * ERR_LEASH_DENIED; code that never expected its read or query to fail (a lazily initialised
 * promise chain with no catch, an unguarded async handler of a plain `node:http` server) lets it
 * escape as an uncaught exception or unhandled rejection, and Node would exit: every later request
 * would fail, which turns one refused attack into a denial of service. Here such a refusal is
 * logged with its scope and facts, the request it came from answers 500 (or its connection
 * closes when the answer has begun), and the process keeps serving. `onUncaughtRefusal: 'exit'`
 * (the handler is then not installed) keeps Node's behaviour; any other uncaught error keeps it
 * always.
 *
 * Refusals are recognised by identity (a WeakMap filled where they are made), never by their
 * `code`: the service's code cannot make its own errors pass for one.
 */
import type { RequestState } from '../attribution/scope.ts';
import type { LeashError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';

export type OnUncaughtRefusal = 'log' | 'exit';

/** Each refusal made by a host, with the request it was made in (undefined outside requests). */
const refusals = new WeakMap<object, RequestState | undefined>();

/** Records a refusal the host is about to throw, with the request it belongs to. */
export function markRefusal(error: LeashError, request: RequestState | undefined): void {
  refusals.set(error, request);
}

/** A refusal, or a refusal wrapped by a library (`fetch failed` with it as its cause). */
function refusalIn(error: unknown): LeashError | undefined {
  let current = error;
  for (let depth = 0; depth < 5; depth++) {
    if (typeof current !== 'object' || current === null) return undefined;
    if (refusals.has(current)) return current as LeashError;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

interface RawResponse {
  headersSent?: boolean;
  writableEnded?: boolean;
  statusCode?: number;
  setHeader?(name: string, value: string): void;
  end?(body: string): void;
  destroy?(): void;
}

/** Answers 500 with nothing of the policy in it, or closes the connection if the answer began. */
function failRequest(request: RequestState | undefined): 'answered' | 'closed' | 'none' {
  const response = request?.response as RawResponse | undefined;
  if (response === undefined || response.writableEnded === true) return 'none';
  if (response.headersSent === false && typeof response.end === 'function') {
    response.statusCode = 500;
    response.setHeader?.('content-type', 'text/plain; charset=utf-8');
    response.setHeader?.('connection', 'close');
    response.end('Internal Server Error\n');
    return 'answered';
  }
  response.destroy?.();
  return 'closed';
}

/** Installs the handler (for `onUncaughtRefusal: 'log'`); returns how to remove it. */
export function installUncaughtRefusal(logger: Logger): () => void {
  const log = logger.child({ module: 'agent' });
  const handler = (error: unknown, origin: string): void => {
    const refusal = refusalIn(error);
    if (refusal === undefined) {
      // Not ours to keep alive. When the service listens itself, its listener decides; otherwise
      // Node's own handling runs: rethrown outside this listener, it prints and exits with 1.
      if (process.listenerCount('uncaughtException') > 1) return;
      process.off('uncaughtException', handler);
      process.nextTick(() => {
        throw error;
      });
      return;
    }
    const request = refusals.get(refusal);
    const outcome = failRequest(request);
    const { details } = refusal;
    log.error(
      {
        event: 'uncaught-refusal',
        origin,
        module: details.module,
        scope: details.scope,
        package: details.package,
        facts: details.facts,
        nearest: details.nearest ?? null,
        policy: details.file,
        request: outcome,
      },
      `a refusal was not caught by the service (${origin}); ${
        outcome === 'answered'
          ? 'its request answered 500'
          : outcome === 'closed'
            ? 'its request was closed'
            : 'it belonged to no open request'
      }; the service keeps running`,
    );
  };
  process.on('uncaughtException', handler);
  return () => {
    process.off('uncaughtException', handler);
  };
}
