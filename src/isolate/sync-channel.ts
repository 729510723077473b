/**
 * @module
 * The channel between an isolated worker and the supervisor: one socketpair the supervisor hands
 * the worker as an inherited descriptor, so the supervisor knows which worker (and so which group)
 * every message comes from, and the worker needs no address its sandbox would have to allow.
 *
 * Calls are synchronous on the worker's side (a blocking read on its end of the pair: Node leaves
 * an inherited socketpair end in blocking mode), because what goes over it backs synchronous APIs
 * (node:sqlite's DatabaseSync). Frames are a 4-byte big-endian length and a `v8.serialize` payload,
 * which carries bigints, Uint8Arrays and Dates that SQL values and session data hold.
 */
import { readSync, writeSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { deserialize, serialize } from 'node:v8';
import { type ErrorCode, LeashError } from '../errors.ts';

/** The environment variable that names the worker's end of the channel. */
export const CHANNEL_FD_ENV = 'LEASH_ISOLATE_FD';

/** A frame larger than this is a broken or hostile peer, not a statement or a session. */
const MAX_FRAME = 64 * 1024 * 1024;

export type Reply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

function frame(value: unknown): Buffer {
  const body = serialize(value);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

function readExactly(fd: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let at = 0;
  while (at < length) {
    const n = readSync(fd, out, at, length - at, null);
    if (n === 0)
      throw new LeashError('ERR_LEASH_TOKEN', 'the leash supervisor closed the isolation channel');
    at += n;
  }
  return out;
}

/** The worker's end: each call blocks until the supervisor answers. */
export interface ChannelClient {
  call(kind: string, message: object): unknown;
}

export function channelClient(fd: number): ChannelClient {
  return {
    call(kind, message) {
      const out = frame({ kind, ...message });
      let at = 0;
      while (at < out.length) at += writeSync(fd, out, at);
      const length = readExactly(fd, 4).readUInt32BE(0);
      if (length > MAX_FRAME)
        throw new LeashError('ERR_LEASH_TOKEN', `isolation channel: a ${length}-byte reply`);
      const reply = deserialize(readExactly(fd, length)) as Reply;
      if (reply.ok) return reply.value;
      throw new LeashError(reply.code, reply.message);
    },
  };
}

/** Answers one message; a thrown LeashError becomes an error reply with its code. */
export type Handler = (message: { readonly kind: string } & Record<string, unknown>) => unknown;

/**
 * The supervisor's end: reads frames from the worker's stream, answers each in order. A peer that
 * sends a frame that is too large or does not deserialise is cut off (it is not a leash agent).
 */
export function serveChannel(
  stream: Duplex,
  handler: Handler,
  onBroken: (reason: string) => void,
): void {
  let pending: Buffer = Buffer.alloc(0);
  let queue: Promise<void> = Promise.resolve();
  const answer = (message: { kind: string } & Record<string, unknown>) => {
    queue = queue.then(async () => {
      let reply: Reply;
      try {
        reply = { ok: true, value: await handler(message) };
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        reply = {
          ok: false,
          code:
            error instanceof LeashError
              ? error.code
              : typeof code === 'string' && code.startsWith('ERR_LEASH_')
                ? (code as ErrorCode)
                : 'ERR_LEASH_DENIED',
          message: (error as Error).message,
        };
      }
      if (!stream.destroyed) stream.write(frame(reply));
    });
  };
  stream.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const length = pending.readUInt32BE(0);
      if (length > MAX_FRAME) {
        onBroken(`a ${length}-byte frame`);
        stream.destroy();
        return;
      }
      if (pending.length < 4 + length) return;
      let message: unknown;
      try {
        message = deserialize(pending.subarray(4, 4 + length));
      } catch (error) {
        onBroken(`a frame that does not deserialise (${(error as Error).message})`);
        stream.destroy();
        return;
      }
      pending = pending.subarray(4 + length);
      if (
        typeof message !== 'object' ||
        message === null ||
        typeof (message as { kind?: unknown }).kind !== 'string'
      ) {
        onBroken('a frame without a kind');
        stream.destroy();
        return;
      }
      answer(message as { kind: string } & Record<string, unknown>);
    }
  });
}
