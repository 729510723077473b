/**
 * @module
 * Reads a small JSON or form body as it streams past, for the sql module's `=request.body.*`
 * sources when the service parses its own body (a plain node:http service) and no framework
 * records it. Only what the service itself reads is seen (leash never consumes the stream), at
 * most 64 KiB; a body that does not parse is ignored.
 */
const MAX_BYTES = 64 * 1024;

type Parse = (text: string) => unknown;

const PARSERS: ReadonlyArray<[RegExp, Parse]> = [
  [/^application\/(?:[\w.+-]+\+)?json\b/i, (text) => JSON.parse(text)],
  [
    /^application\/x-www-form-urlencoded\b/i,
    (text) => Object.fromEntries(new URLSearchParams(text)),
  ],
];

export interface BodyWatcher {
  /** Called with each event the request emits and its first argument (a `data` event's chunk). */
  see(event: string | symbol, first: unknown): void;
}

/** A watcher for this request, or undefined when its body is not one leash reads. */
export function watchBody(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  done: (body: unknown) => void,
): BodyWatcher | undefined {
  const type = headers['content-type'];
  if (typeof type !== 'string') return undefined;
  const parse = PARSERS.find(([pattern]) => pattern.test(type))?.[1];
  if (parse === undefined) return undefined;
  const length = Number(headers['content-length']);
  if (Number.isFinite(length) && length > MAX_BYTES) return undefined;
  let chunks: Buffer[] | undefined = [];
  let size = 0;
  return {
    see(event, chunk) {
      if (chunks === undefined) return;
      if (event === 'data') {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        size += buffer.length;
        if (size > MAX_BYTES) chunks = undefined;
        else chunks.push(buffer);
      } else if (event === 'end') {
        const text = Buffer.concat(chunks).toString('utf8');
        chunks = undefined;
        try {
          done(parse(text));
        } catch {
          // Not the service's business that leash could not read it.
        }
      }
    },
  };
}
