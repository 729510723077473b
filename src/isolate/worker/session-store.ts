/**
 * @module
 * express-session's default MemoryStore, in an isolated worker, keeps nothing itself: get, set,
 * touch and destroy go to the supervisor's session table (sessions.ts), which every worker shares
 * and which decides, by the request's token, which session a worker may touch and whether it may
 * change who is logged in. A service that configures its own store (Redis, a database) shares it
 * already and is left alone; the supervisor then cannot resolve the principal from the session.
 */
import { defineInstrumentation, type Instrumentation } from '../../instrument/instrumentation.ts';
import type { ChannelClient } from '../sync-channel.ts';

type Callback = (error: unknown, value?: unknown) => void;
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const METHODS = ['get', 'set', 'touch', 'destroy', 'all', 'clear', 'length'] as const;

export function sessionStoreInstrumentation(
  client: ChannelClient,
  tokenOf: () => string | undefined,
): Instrumentation {
  const call = (op: string, sid: unknown, session?: unknown): unknown =>
    client.call('session', {
      op,
      sid,
      json: session === undefined ? undefined : JSON.stringify(session),
      token: tokenOf(),
    });
  const answer = (callback: unknown, fn: () => unknown) => {
    let error: unknown = null;
    let value: unknown;
    try {
      value = fn();
    } catch (caught) {
      error = caught;
    }
    if (typeof callback === 'function')
      process.nextTick(() => (callback as Callback)(error, error === null ? value : undefined));
  };
  const remote: Record<(typeof METHODS)[number], AnyFunction> = {
    get(sid, callback) {
      answer(callback, () => {
        const json = call('get', sid);
        return typeof json === 'string' ? JSON.parse(json) : undefined;
      });
    },
    set(sid, session, callback) {
      answer(callback, () => call('set', sid, session));
    },
    touch(sid, session, callback) {
      answer(callback, () => call('touch', sid, session));
    },
    destroy(sid, callback) {
      answer(callback, () => call('destroy', sid));
    },
    // Listing or clearing every session is not a request's business.
    all(callback) {
      answer(callback, () => ({}));
    },
    clear(callback) {
      answer(callback, () => undefined);
    },
    length(callback) {
      answer(callback, () => 0);
    },
  };
  return defineInstrumentation({
    package: 'express-session',
    purpose: 'the default MemoryStore kept by the supervisor (isolated workers)',
    consequence: 'sessions would stay in each worker and users would be logged out between routes',
    failClosed: true,
    files: [
      {
        file: 'session/memory.js',
        versions: '>=1.10.0 <2',
        patch(exports) {
          const proto = (exports as { prototype: Record<string, AnyFunction> }).prototype;
          const originals = Object.fromEntries(METHODS.map((m) => [m, proto[m]]));
          for (const m of METHODS) proto[m] = remote[m];
          return () => {
            for (const m of METHODS) proto[m] = originals[m]!;
          };
        },
      },
    ],
  });
}
