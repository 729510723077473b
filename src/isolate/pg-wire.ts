/**
 * @module
 * PostgreSQL's frontend/backend protocol 3.0, as much as the leash proxy needs: framing a byte
 * stream into messages, reading the few messages the proxy decides or records on, and building the
 * few it sends of its own. Everything else passes through as the bytes it came in.
 */

/** Start-up codes (the first message of a connection has no type byte, only a length and a code). */
export const PROTOCOL_3_0 = 196_608;
export const SSL_REQUEST = 80_877_103;
export const GSSENC_REQUEST = 80_877_104;
export const CANCEL_REQUEST = 80_877_102;
/** PostgreSQL's own limit for a start-up packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_LENGTH = 10_000;

export interface Message {
  /** The type byte as a character ('Q', 'P', ...); '' for a start-up message, which has none. */
  readonly type: string;
  /** The content after the length. */
  readonly body: Buffer;
  /** The whole message as received: what is relayed when the proxy changes nothing. */
  readonly raw: Buffer;
}

export type Frame =
  | { readonly ok: true; readonly message: Message }
  | { readonly ok: false; readonly reason: string };

/**
 * Cuts a stream into messages. Chunks are kept as they come and joined once per message that
 * spans several, so a large row costs one copy however many chunks carried it.
 */
export class MessageReader {
  readonly #maxLength: number;
  #chunks: Buffer[] = [];
  #size = 0;

  constructor(maxLength: number) {
    this.#maxLength = maxLength;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  /** Bytes received and not yet taken as a message. */
  get buffered(): number {
    return this.#size;
  }

  /** The next complete message, undefined while it is incomplete; `typed: false` for start-up. */
  next(typed = true): Frame | undefined {
    const head = typed ? 5 : 4;
    if (this.#size < head) return undefined;
    if (this.#chunks[0]!.length < head) this.#join();
    const first = this.#chunks[0]!;
    const length = first.readInt32BE(typed ? 1 : 0);
    const type = typed ? String.fromCharCode(first[0]!) : '';
    const max = typed ? this.#maxLength : MAX_STARTUP_LENGTH;
    if (length < 4)
      return { ok: false, reason: `a message ${JSON.stringify(type)} of length ${length}` };
    if (length > max)
      return {
        ok: false,
        reason: `a message ${JSON.stringify(type)} of ${length} bytes (the limit is ${max})`,
      };
    const total = length + (typed ? 1 : 0);
    if (this.#size < total) return undefined;
    if (this.#chunks[0]!.length < total) this.#join();
    const buffer = this.#chunks[0]!;
    const raw = buffer.subarray(0, total);
    if (buffer.length === total) this.#chunks.shift();
    else this.#chunks[0] = buffer.subarray(total);
    this.#size -= total;
    return { ok: true, message: { type, body: raw.subarray(head), raw } };
  }

  #join(): void {
    this.#chunks = [Buffer.concat(this.#chunks, this.#size)];
  }
}

/** A message body ended early or held what its type cannot. */
class Malformed extends Error {}

/** Reads a message body front to back; any overrun throws Malformed. */
class Cursor {
  readonly buffer: Buffer;
  #at = 0;
  constructor(buffer: Buffer) {
    this.buffer = buffer;
  }

  #need(n: number): number {
    if (this.#at + n > this.buffer.length) throw new Malformed('truncated');
    const at = this.#at;
    this.#at += n;
    return at;
  }
  int8(): number {
    return this.buffer.readUInt8(this.#need(1));
  }
  int16(): number {
    return this.buffer.readInt16BE(this.#need(2));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.#need(4));
  }
  bytes(n: number): Buffer {
    const at = this.#need(n);
    return this.buffer.subarray(at, at + n);
  }
  cstring(): string {
    const end = this.buffer.indexOf(0, this.#at);
    if (end < 0) throw new Malformed('unterminated string');
    const text = this.buffer.toString('utf8', this.#at, end);
    this.#at = end + 1;
    return text;
  }
  get done(): boolean {
    return this.#at === this.buffer.length;
  }
  /** A message with bytes after its last field is malformed too. */
  end(): void {
    if (!this.done) throw new Malformed('trailing bytes');
  }
}

/** Runs a reader over a body: its result, or undefined when the body is malformed. */
function read<T>(body: Buffer, reader: (cursor: Cursor) => T): T | undefined {
  try {
    return reader(new Cursor(body));
  } catch (error) {
    if (error instanceof Malformed || error instanceof RangeError) return undefined;
    throw error;
  }
}

// ---- What the client sends --------------------------------------------------------------------

export interface Startup {
  readonly code: number;
  /** For a StartupMessage (code 3.x): its parameters. */
  readonly params: ReadonlyMap<string, string>;
}

export function readStartup(body: Buffer): Startup | undefined {
  return read(body, (c) => {
    const code = c.int32();
    const params = new Map<string, string>();
    if (code >> 16 === 3) {
      for (;;) {
        const key = c.cstring();
        if (key === '') break;
        params.set(key, c.cstring());
      }
      c.end();
    }
    return { code, params };
  });
}

export function readQuery(body: Buffer): string | undefined {
  return read(body, (c) => {
    const sql = c.cstring();
    c.end();
    return sql;
  });
}

export interface Parse {
  readonly name: string;
  readonly sql: string;
  readonly paramTypes: readonly number[];
}

export function readParse(body: Buffer): Parse | undefined {
  return read(body, (c) => {
    const name = c.cstring();
    const sql = c.cstring();
    const count = c.int16();
    if (count < 0) throw new Malformed('negative count');
    const paramTypes = Array.from({ length: count }, () => c.int32());
    c.end();
    return { name, sql, paramTypes };
  });
}

/** A parameter as the gate sees it: text as a string, binary as its bytes, NULL as null. */
export type ParamValue = string | Buffer | null;

export interface Bind {
  readonly portal: string;
  readonly statement: string;
  readonly params: readonly ParamValue[];
  /** The result columns' format codes as sent (none: all text; one: all the same). */
  readonly resultFormats: readonly number[];
}

/** A format code list applies to n items: empty means text, one code means all. */
export function formatOf(formats: readonly number[], index: number): number {
  if (formats.length === 0) return 0;
  return formats.length === 1 ? formats[0]! : (formats[index] ?? 0);
}

export function readBind(body: Buffer): Bind | undefined {
  return read(body, (c) => {
    const portal = c.cstring();
    const statement = c.cstring();
    const formatCount = c.int16();
    if (formatCount < 0) throw new Malformed('negative count');
    const formats = Array.from({ length: formatCount }, () => c.int16());
    const count = c.int16();
    if (count < 0 || (formatCount > 1 && formatCount !== count))
      throw new Malformed('parameter formats do not match the parameters');
    const params: ParamValue[] = [];
    for (let i = 0; i < count; i++) {
      const length = c.int32();
      if (length < -1) throw new Malformed('negative length');
      if (length === -1) {
        params.push(null);
        continue;
      }
      const value = c.bytes(length);
      params.push(formatOf(formats, i) === 0 ? value.toString('utf8') : Buffer.from(value));
    }
    const resultCount = c.int16();
    if (resultCount < 0) throw new Malformed('negative count');
    const resultFormats = Array.from({ length: resultCount }, () => c.int16());
    c.end();
    return { portal, statement, params, resultFormats };
  });
}

/** Describe and Close name a prepared statement ('S') or a portal ('P'). */
export interface Target {
  readonly kind: 'S' | 'P';
  readonly name: string;
}

export function readTarget(body: Buffer): Target | undefined {
  return read(body, (c) => {
    const kind = String.fromCharCode(c.int8());
    if (kind !== 'S' && kind !== 'P') throw new Malformed('neither statement nor portal');
    const name = c.cstring();
    c.end();
    return { kind, name };
  });
}

export function readExecute(body: Buffer): { readonly portal: string } | undefined {
  return read(body, (c) => {
    const portal = c.cstring();
    c.int32();
    c.end();
    return { portal };
  });
}

// ---- What the server sends --------------------------------------------------------------------

export interface Column {
  readonly name: string;
  /** 0 text, 1 binary. */
  readonly format: number;
}

export function readRowDescription(body: Buffer): Column[] | undefined {
  return read(body, (c) => {
    const count = c.int16();
    const columns: Column[] = [];
    for (let i = 0; i < count; i++) {
      const name = c.cstring();
      c.bytes(16); // table oid, attribute number, type oid, type size, type modifier
      columns.push({ name, format: c.int16() });
    }
    return columns;
  });
}

/** A DataRow's values as bytes (null for NULL). */
export function readDataRow(body: Buffer): (Buffer | null)[] | undefined {
  return read(body, (c) => {
    const count = c.int16();
    const values: (Buffer | null)[] = [];
    for (let i = 0; i < count; i++) {
      const length = c.int32();
      values.push(length < 0 ? null : c.bytes(length));
    }
    return values;
  });
}

/** ErrorResponse and NoticeResponse: field code → value. */
export function readFields(body: Buffer): Map<string, string> | undefined {
  return read(body, (c) => {
    const fields = new Map<string, string>();
    for (;;) {
      const code = c.int8();
      if (code === 0) break;
      fields.set(String.fromCharCode(code), c.cstring());
    }
    return fields;
  });
}

export function readParameterStatus(
  body: Buffer,
): { readonly name: string; readonly value: string } | undefined {
  return read(body, (c) => ({ name: c.cstring(), value: c.cstring() }));
}

export interface AuthRequest {
  readonly code: number;
  /** What follows the code: the md5 salt, the SASL mechanisms or data. */
  readonly data: Buffer;
}

export function readAuthentication(body: Buffer): AuthRequest | undefined {
  return read(body, (c) => ({ code: c.int32(), data: c.buffer.subarray(4) }));
}

/** The null-terminated strings of a list that ends with an empty one (SASL mechanisms). */
export function readStringList(data: Buffer): string[] | undefined {
  return read(data, (c) => {
    const list: string[] = [];
    for (;;) {
      const item = c.cstring();
      if (item === '') return list;
      list.push(item);
    }
  });
}

// ---- Building messages ------------------------------------------------------------------------

type Part = string | Buffer | { readonly int16: number } | { readonly int32: number };

function encode(part: Part): Buffer {
  if (typeof part === 'string') return Buffer.from(`${part}\0`, 'utf8');
  if (Buffer.isBuffer(part)) return part;
  const out = Buffer.alloc('int16' in part ? 2 : 4);
  if ('int16' in part) out.writeInt16BE(part.int16);
  else out.writeInt32BE(part.int32);
  return out;
}

/** A message of `type` ('' for start-up) whose body is the parts in order (strings null-terminated). */
export function message(type: string, ...parts: Part[]): Buffer {
  const body = Buffer.concat(parts.map(encode));
  const head = Buffer.alloc(type === '' ? 4 : 5);
  if (type !== '') head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, type === '' ? 0 : 1);
  return Buffer.concat([head, body]);
}

export function startupMessage(params: ReadonlyMap<string, string>): Buffer {
  const parts: Part[] = [{ int32: PROTOCOL_3_0 }];
  for (const [key, value] of params) parts.push(key, value);
  return message('', ...parts, Buffer.of(0));
}

export function parseMessage(parse: Parse): Buffer {
  return message(
    'P',
    parse.name,
    parse.sql,
    { int16: parse.paramTypes.length },
    ...parse.paramTypes.map((oid) => ({ int32: oid })),
  );
}

export const queryMessage = (sql: string): Buffer => message('Q', sql);
export const authenticationOk = (): Buffer => message('R', { int32: 0 });
export const readyForQuery = (status: string): Buffer =>
  message('Z', Buffer.from(status, 'latin1'));
export const terminateMessage = (): Buffer => message('X');

/** ErrorResponse (or NoticeResponse with type 'N') from field code → value. */
export function errorResponse(fields: Readonly<Record<string, string>>, type = 'E'): Buffer {
  const parts: Part[] = [];
  for (const [code, value] of Object.entries(fields))
    parts.push(Buffer.from(code, 'latin1'), value);
  return message(type, ...parts, Buffer.of(0));
}

/** NegotiateProtocolVersion: the newest minor version served and the options not recognised. */
export function negotiateProtocolVersion(minor: number, unknown: readonly string[]): Buffer {
  return message('v', { int32: minor }, { int32: unknown.length }, ...unknown);
}
