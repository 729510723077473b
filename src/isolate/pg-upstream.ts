/**
 * @module
 * The proxy's side of a connection to the real database: where it is (a `postgres://` URL read
 * once, in the supervisor), and the start-up with the real credentials — trust, cleartext
 * password, md5 or SCRAM-SHA-256 (without channel binding: the proxy speaks plain TCP or a unix
 * socket to the database). Workers never see these credentials.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { promisify } from 'node:util';
import { LeashError } from '../errors.ts';
import {
  type Message,
  MessageReader,
  message,
  readAuthentication,
  readFields,
  readStringList,
  startupMessage,
} from './pg-wire.ts';

const pbkdf2Async = promisify(pbkdf2);

export interface PgUpstream {
  /** A host name or address, or a directory holding PostgreSQL's unix socket. */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  readonly database: string;
}

const config = (message: string): LeashError => new LeashError('ERR_LEASH_CONFIG', message);

/**
 * The upstream a `postgres://user:password@host:port/database` URL names (`?host=/dir` for a unix
 * socket). The URL itself never appears in an error: it holds the password.
 */
export function upstreamFromUrl(url: string): PgUpstream {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw config('the database URL for the proxy is not a URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    throw config(`the database URL for the proxy is ${parsed.protocol} (postgres: expected)`);
  const sslmode = parsed.searchParams.get('sslmode');
  if (sslmode !== null && !['disable', 'allow', 'prefer'].includes(sslmode))
    throw config(`the database proxy does not speak TLS to the database (sslmode=${sslmode})`);
  const host =
    parsed.searchParams.get('host') ??
    decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw config('the database URL for the proxy names no host');
  const user = decodeURIComponent(parsed.username);
  if (user === '') throw config('the database URL for the proxy names no user');
  const port = parsed.port === '' ? 5432 : Number(parsed.port);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || user;
  return {
    host,
    port,
    user,
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    database,
  };
}

/** A new socket to the upstream (TCP, or its unix socket when host is a directory). */
export function connectUpstream(upstream: PgUpstream): net.Socket {
  const socket = upstream.host.startsWith('/')
    ? net.connect({ path: `${upstream.host}/.s.PGSQL.${upstream.port}` })
    : net.connect({ host: upstream.host, port: upstream.port });
  socket.setNoDelay(true);
  return socket;
}

/** What the server said between AuthenticationOk and its first ReadyForQuery. */
export interface Greeting {
  /** ParameterStatus, BackendKeyData and notices, raw, for the client. */
  readonly messages: readonly Buffer[];
  /** ReadyForQuery, raw. */
  readonly ready: Buffer;
  /** Bytes received after ReadyForQuery (none from a conforming server). */
  readonly reader: MessageReader;
}

export type StartupResult =
  | ({ readonly ok: true } & Greeting)
  /** The server refused (a FATAL ErrorResponse, raw: relayed to the client as it is). */
  | { readonly ok: false; readonly error: Buffer; readonly message: string };

const AUTH_OK = 0;
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;
const AUTH_SASL_CONTINUE = 11;
const AUTH_SASL_FINAL = 12;

/**
 * Runs the start-up on a connected (or connecting) socket: StartupMessage with `params`, then
 * whatever authentication the server asks for. Rejects with a LeashError when the socket fails or
 * the server asks for something the proxy cannot do; the socket is then destroyed.
 */
export function startUpstream(
  socket: net.Socket,
  upstream: PgUpstream,
  params: ReadonlyMap<string, string>,
  maxMessageBytes: number,
): Promise<StartupResult> {
  return new Promise<StartupResult>((resolve, reject) => {
    const reader = new MessageReader(maxMessageBytes);
    const greeting: Buffer[] = [];
    let scram: ScramClient | undefined;
    let settled = false;
    const done = (): void => {
      settled = true;
      socket.off('data', onData).off('error', onError).off('close', onClose);
    };
    const fail = (error: LeashError): void => {
      if (settled) return;
      done();
      socket.destroy();
      reject(error);
    };
    const onError = (error: Error): void =>
      fail(
        new LeashError(
          'ERR_LEASH_CONFIG',
          `the database proxy could not reach the database: ${error.message}`,
          {},
          { cause: error },
        ),
      );
    const onClose = (): void =>
      fail(
        new LeashError('ERR_LEASH_CONFIG', 'the database closed the connection during start-up'),
      );
    const send = (data: Buffer): void => {
      socket.write(data);
    };

    const password = (): string => {
      if (upstream.password === undefined)
        throw new LeashError(
          'ERR_LEASH_CONFIG',
          'the database asks for a password and the proxy has none',
        );
      return upstream.password;
    };

    const onAuth = async (m: Message): Promise<void> => {
      const auth = readAuthentication(m.body);
      if (auth === undefined) throw protocol('a malformed authentication request');
      switch (auth.code) {
        case AUTH_OK:
          return;
        case AUTH_CLEARTEXT:
          send(message('p', password()));
          return;
        case AUTH_MD5: {
          const inner = md5(Buffer.from(password() + upstream.user, 'utf8'));
          send(
            message(
              'p',
              `md5${md5(Buffer.concat([Buffer.from(inner), auth.data.subarray(0, 4)]))}`,
            ),
          );
          return;
        }
        case AUTH_SASL: {
          const mechanisms = readStringList(auth.data) ?? [];
          if (!mechanisms.includes('SCRAM-SHA-256'))
            throw new LeashError(
              'ERR_LEASH_CONFIG',
              `the database offers SASL ${mechanisms.join(', ')}; the proxy does SCRAM-SHA-256 only`,
            );
          scram = new ScramClient(password());
          const first = Buffer.from(scram.clientFirst(), 'utf8');
          send(message('p', 'SCRAM-SHA-256', { int32: first.length }, first));
          return;
        }
        case AUTH_SASL_CONTINUE: {
          if (scram === undefined) throw protocol('SASL data before SASL started');
          send(
            message('p', Buffer.from(await scram.clientFinal(auth.data.toString('utf8')), 'utf8')),
          );
          return;
        }
        case AUTH_SASL_FINAL:
          if (scram?.verify(auth.data.toString('utf8')) !== true)
            throw new LeashError(
              'ERR_LEASH_CONFIG',
              'the database did not prove it knows the SCRAM password',
            );
          return;
        default:
          throw new LeashError(
            'ERR_LEASH_CONFIG',
            `the database asks for authentication method ${auth.code}; the proxy does trust, password, md5 and SCRAM-SHA-256`,
          );
      }
    };

    // Messages are handled one at a time: SCRAM's key derivation is asynchronous.
    let chain = Promise.resolve();
    const onData = (chunk: Buffer): void => {
      reader.push(chunk);
      chain = chain
        .then(drain)
        .catch((error: unknown) =>
          fail(error instanceof LeashError ? error : protocol(String(error))),
        );
    };
    const drain = async (): Promise<void> => {
      for (;;) {
        if (settled) return;
        const frame = reader.next();
        if (frame === undefined) return;
        if (!frame.ok) throw protocol(frame.reason);
        const m = frame.message;
        switch (m.type) {
          case 'R':
            await onAuth(m);
            break;
          case 'E': {
            done();
            socket.destroy();
            const fields = readFields(m.body);
            resolve({
              ok: false,
              error: Buffer.from(m.raw),
              message: fields?.get('M') ?? 'refused',
            });
            return;
          }
          case 'Z':
            done();
            resolve({ ok: true, messages: greeting, ready: Buffer.from(m.raw), reader });
            return;
          case 'v': // NegotiateProtocolVersion: the proxy asks for 3.0 and no options, so nothing to do.
            break;
          default:
            greeting.push(Buffer.from(m.raw));
        }
      }
    };

    socket.on('data', onData).on('error', onError).on('close', onClose);
    send(
      startupMessage(
        new Map([['user', upstream.user], ['database', upstream.database], ...params]),
      ),
    );
  });
}

function protocol(what: string): LeashError {
  return new LeashError('ERR_LEASH_CONFIG', `the database's start-up broke the protocol: ${what}`);
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

const hmac = (key: Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * SCRAM-SHA-256 (RFC 5802/7677) as libpq does it: no channel binding (`n,,`), an empty user name
 * (the server takes the start-up user). The password is normalised with NFKC, which is what
 * SASLprep comes to for the passwords people use; PostgreSQL normalises the stored verifier alike.
 */
class ScramClient {
  readonly #password: string;
  readonly #nonce = randomBytes(18).toString('base64');
  #firstBare = '';
  #serverSignature: Buffer | undefined;

  constructor(password: string) {
    this.#password = password.normalize('NFKC');
  }

  clientFirst(): string {
    this.#firstBare = `n=,r=${this.#nonce}`;
    return `n,,${this.#firstBare}`;
  }

  async clientFinal(serverFirst: string): Promise<string> {
    const attrs = new Map(
      serverFirst.split(',').map((part) => [part.slice(0, 1), part.slice(2)] as const),
    );
    const nonce = attrs.get('r') ?? '';
    const salt = Buffer.from(attrs.get('s') ?? '', 'base64');
    const iterations = Number(attrs.get('i'));
    if (!nonce.startsWith(this.#nonce) || nonce.length === this.#nonce.length)
      throw new LeashError('ERR_LEASH_CONFIG', 'SCRAM: the database answered with a foreign nonce');
    if (salt.length === 0 || !Number.isInteger(iterations) || iterations < 1)
      throw new LeashError(
        'ERR_LEASH_CONFIG',
        'SCRAM: the database sent no usable salt or iteration count',
      );
    const salted = await pbkdf2Async(this.#password, salt, iterations, 32, 'sha256');
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = createHash('sha256').update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.#firstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]!));
    this.#serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  verify(serverFinal: string): boolean {
    const expected = this.#serverSignature;
    if (expected === undefined || !serverFinal.startsWith('v=')) return false;
    const given = Buffer.from(serverFinal.slice(2).split(',')[0]!, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
