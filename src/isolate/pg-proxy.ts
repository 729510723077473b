/**
 * @module
 * The PostgreSQL proxy of process isolation. Sandboxed workers hold no database credentials and
 * cannot reach the database; their unmodified drivers connect here instead, one loopback listener
 * per worker, so a connection's listener says which worker it is. Every statement goes to that
 * worker's gate first and reaches the database, with the proxy's own credentials, only if the gate
 * allows it; the rows it returns go back to the gate for the request's `=result` constraints.
 *
 * Where a statement is decided: a simple Query when it arrives, with no parameters (all of a
 * multi-statement string is one decision); an extended-protocol statement at each Bind, when its
 * text (from Parse) and its parameters are both known. A Parse is held back until the Bind that
 * needs it, or until some other message (Describe, Sync...) shows the client wants it prepared
 * first; preparing executes nothing. A Bind to a statement the proxy did not see prepared (SQL
 * `PREPARE`) is refused: its text is unknown. The fastpath FunctionCall is refused. COPY is
 * relayed: its statement is decided like any other, its data then flows both ways (the server
 * ignores copy data outside a COPY); COPY TO STDOUT rows are not remembered.
 *
 * A refused statement is replaced upstream by one that cannot parse and so runs nothing, and the
 * server's error for it is replaced by the refusal (SQLSTATE 42501, detail `leash: <code>`). The
 * replacement fails exactly as the refused statement would have: it aborts a transaction block, the
 * extended protocol skips to the next Sync, and the answers reach the client in the order it sent
 * the statements even when it pipelines them. To know which answer belongs to which message, the
 * proxy keeps a queue of what each forwarded message will be answered with; an answer the queue
 * does not expect closes the connection rather than risk remembering rows for the wrong statement.
 *
 * The worker's start-up parameters are not trusted: its user, password and database are ignored
 * (it gets AuthenticationOk), `replication` and `options` are dropped (one bypasses statements
 * altogether, the other sets any setting), and the connection is held to UTF-8, the encoding the
 * gate reads text in: a server report of another client_encoding closes it.
 */
import net from 'node:net';
import { isLeashError, LeashError } from '../errors.ts';
import { type Gate, type GateDecision, type GateStatement, splitToken } from './gate.ts';
import { connectUpstream, type PgUpstream, startUpstream } from './pg-upstream.ts';
import {
  authenticationOk,
  CANCEL_REQUEST,
  type Column,
  errorResponse,
  formatOf,
  GSSENC_REQUEST,
  type Message,
  MessageReader,
  negotiateProtocolVersion,
  type Parse,
  parseMessage,
  queryMessage,
  readBind,
  readDataRow,
  readExecute,
  readFields,
  readParameterStatus,
  readParse,
  readQuery,
  readRowDescription,
  readStartup,
  readTarget,
  SSL_REQUEST,
  type Target,
  terminateMessage,
} from './pg-wire.ts';

export { type PgUpstream, upstreamFromUrl } from './pg-upstream.ts';

export interface PgProxyOptions {
  /** The real database and the credentials the proxy uses for it (see `upstreamFromUrl`). */
  readonly upstream: PgUpstream;
  readonly log?: (message: string) => void;
  /** The largest message a worker may send; a larger one closes its connection. Default 64 MiB. */
  readonly maxMessageBytes?: number;
  /** Rows remembered per allowed statement (all rows are relayed). Default 1000. */
  readonly maxRememberedRows?: number;
}

export interface PgListener {
  readonly port: number;
  /** Stops listening and closes this listener's connections (and their upstream connections). */
  close(): Promise<void>;
}

export interface PgProxy {
  /**
   * A new listener on 127.0.0.1 (a free port) whose connections `gate` decides. One per worker:
   * the supervisor knows a connection's worker by the listener it came to.
   */
  listen(gate: Gate): Promise<PgListener>;
  /** Closes every listener and every connection, upstream ones included. */
  close(): Promise<void>;
}

const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;
const DEFAULT_MAX_REMEMBERED = 1000;
/** The database is trusted: its messages are bounded only by the protocol's length field. */
const UPSTREAM_MAX_MESSAGE = 0x7fff_ffff;
/** Named prepared statements or portals one connection may have the proxy track. */
const MAX_NAMES = 10_000;
/** Parse messages held back at once, waiting for their Bind. */
const MAX_HELD = 64;

/** Start-up parameters passed on: presentation settings and timeouts, nothing that changes who runs what. */
const FORWARDED_PARAMS = new Set([
  'application_name',
  'fallback_application_name',
  'DateStyle',
  'TimeZone',
  'IntervalStyle',
  'extra_float_digits',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
]);

/** What a refused statement becomes upstream: a syntax error, so nothing runs. */
const REFUSED_SQL = 'leash_refused_this_statement';
/** Named, so the client's unnamed prepared statement is left alone. */
const REFUSED_PARSE: Parse = { name: 'leash_refused', sql: REFUSED_SQL, paramTypes: [] };

interface Settings {
  readonly upstream: PgUpstream;
  readonly log: (message: string) => void;
  readonly maxMessageBytes: number;
  readonly maxRememberedRows: number;
}

export function createPgProxy(options: PgProxyOptions): PgProxy {
  const settings: Settings = {
    upstream: options.upstream,
    log: options.log ?? (() => {}),
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE,
    maxRememberedRows: options.maxRememberedRows ?? DEFAULT_MAX_REMEMBERED,
  };
  const listeners = new Set<PgListener>();
  let closed = false;

  return {
    async listen(gate) {
      if (closed) throw new LeashError('ERR_LEASH_USAGE', 'the database proxy is closed');
      const sessions = new Set<Session>();
      let closing = false;
      const server = net.createServer({ noDelay: true }, (socket) => {
        if (closing) {
          socket.destroy();
          return;
        }
        const session = new Session(socket, gate, settings, () => sessions.delete(session));
        sessions.add(session);
      });
      server.on('error', (error) => settings.log(`pg proxy: listener error: ${error.message}`));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      const { port } = server.address() as net.AddressInfo;
      const listener: PgListener = {
        port,
        close() {
          closing = true;
          listeners.delete(listener);
          for (const session of sessions) session.close();
          return new Promise((resolve) => server.close(() => resolve()));
        },
      };
      listeners.add(listener);
      return listener;
    },
    async close() {
      closed = true;
      await Promise.all([...listeners].map((listener) => listener.close()));
    },
  };
}

/** The ErrorResponse a worker gets for a refused statement. */
function refusal(error: LeashError): Buffer {
  return errorResponse({
    S: 'ERROR',
    V: 'ERROR',
    C: '42501',
    M: error.message,
    D: `leash: ${error.code}`,
  });
}

/** The rows one allowed statement returns, up to the limit, for its decision's remember(). */
class Recall {
  readonly #remember: (rows: readonly Record<string, unknown>[]) => void;
  readonly #log: (message: string) => void;
  #left: number;
  constructor(
    remember: (rows: readonly Record<string, unknown>[]) => void,
    limit: number,
    log: (message: string) => void,
  ) {
    this.#remember = remember;
    this.#left = limit;
    this.#log = log;
  }
  /** Whether one more row is wanted. */
  take(): boolean {
    if (this.#left <= 0) return false;
    this.#left--;
    return true;
  }
  deliver(rows: readonly Record<string, unknown>[]): void {
    if (rows.length === 0) return;
    try {
      this.#remember(rows);
    } catch (error) {
      this.#log(`pg proxy: remembering rows failed: ${(error as Error).message}`);
    }
  }
}

/** One result set being collected: rows become column name → value (text as string, binary as bytes). */
class ResultSet {
  readonly #rows: Record<string, unknown>[] = [];
  readonly #recall: Recall;
  readonly #columns: readonly Column[];
  constructor(recall: Recall, columns: readonly Column[]) {
    this.#recall = recall;
    this.#columns = columns;
  }
  add(body: Buffer): void {
    if (!this.#recall.take()) return;
    const values = readDataRow(body);
    if (values === undefined) return;
    this.#rows.push(
      Object.fromEntries(
        this.#columns.map((column, i) => {
          const value = values[i] ?? null;
          if (value === null) return [column.name, null];
          return [column.name, column.format === 0 ? value.toString('utf8') : Buffer.from(value)];
        }),
      ),
    );
  }
  finish(): void {
    this.#recall.deliver(this.#rows);
  }
}

interface Portal {
  readonly statement: string;
  readonly recall: Recall;
  readonly resultFormats: readonly number[];
  /** From a Describe of the portal. */
  columns?: readonly Column[];
}

/** What a forwarded message will be answered with, in order. */
type Pending =
  | { readonly kind: 'parse' | 'bind' | 'close' | 'sync' }
  | { readonly kind: 'describe'; readonly target: Target }
  | { readonly kind: 'execute'; readonly portal: Portal | undefined; result?: ResultSet }
  | {
      readonly kind: 'query';
      readonly recall: Recall | undefined;
      result?: ResultSet | undefined;
      /** For a refused query: the refusal that replaces the server's error. */
      replace?: Buffer | undefined;
    }
  /** A refused Bind's stand-in Parse: its error becomes `error`. */
  | { readonly kind: 'refused'; readonly error: Buffer };

type Phase = 'startup' | 'connecting' | 'ready' | 'closed';

/** One worker connection and its upstream connection. */
class Session {
  readonly #client: net.Socket;
  readonly #gate: Gate;
  readonly #settings: Settings;
  readonly #onClosed: () => void;
  readonly #reader: MessageReader;
  #upstream: net.Socket | undefined;
  #upstreamReader: MessageReader | undefined;
  #phase: Phase = 'startup';
  /** Prepared statements the client made: name → text without the token comment, and the token. */
  readonly #statements = new Map<string, { sql: string; token: string | undefined }>();
  /** Their result columns, from a Describe of the statement. */
  readonly #statementColumns = new Map<string, readonly Column[]>();
  readonly #portals = new Map<string, Portal>();
  /** Parse messages not yet sent: they wait for their Bind. */
  #held: Parse[] = [];
  #pending: Pending[] = [];
  /** After a refused Bind: the client's messages are dropped up to its Sync (as the server would). */
  #discarding = false;
  /** After a server error in the extended protocol: the server ignores everything up to a Sync. */
  #upstreamSkipping = false;
  #clientFull = false;
  #upstreamFull = false;

  constructor(client: net.Socket, gate: Gate, settings: Settings, onClosed: () => void) {
    this.#client = client;
    this.#gate = gate;
    this.#settings = settings;
    this.#onClosed = onClosed;
    this.#reader = new MessageReader(settings.maxMessageBytes);
    client.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      this.#pumpClient();
    });
    client.on('error', (error) => this.#log(`worker connection error: ${error.message}`));
    // The session is tracked until its worker socket is closed, so close() reaches a draining one.
    client.on('close', () => {
      this.#end();
      this.#onClosed();
    });
  }

  #log(message: string): void {
    this.#settings.log(`pg proxy: ${message}`);
  }

  /** Closes both connections now (also when they are already closing). */
  close(): void {
    this.#phase = 'closed';
    this.#client.destroy();
    this.#upstream?.destroy();
  }

  /** The worker went away: say goodbye to the server properly, so it logs no broken connection. */
  #end(): void {
    if (this.#phase === 'closed') return;
    const upstream = this.#upstream;
    if (this.#phase === 'ready' && upstream !== undefined && !upstream.destroyed) {
      this.#upstream = undefined;
      upstream.end(terminateMessage());
      upstream.destroySoon();
    }
    this.close();
  }

  /** Sends the worker a last message (a FATAL error) and closes. */
  #fatal(error: Buffer): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#upstream?.destroy();
    this.#client.end(error);
    this.#client.destroySoon();
  }

  #malformed(reason: string): void {
    this.#log(`closing a worker connection: it sent ${reason}`);
    this.close();
  }

  /** The proxy lost track of the server's answers: nothing it relays after this could be trusted. */
  #broken(reason: string): void {
    this.#log(`closing a worker connection: ${reason}`);
    this.close();
  }

  // ---- flow control ---------------------------------------------------------------------------

  #flow(): void {
    if (this.#phase === 'closed') return;
    if (this.#phase !== 'connecting' && !this.#upstreamFull) this.#client.resume();
    else this.#client.pause();
    if (this.#phase === 'ready' && this.#upstream !== undefined) {
      if (this.#clientFull) this.#upstream.pause();
      else this.#upstream.resume();
    }
  }

  #toClient(data: Buffer): void {
    if (this.#client.write(data) || this.#clientFull) return;
    this.#clientFull = true;
    this.#flow();
    this.#client.once('drain', () => {
      this.#clientFull = false;
      this.#flow();
    });
  }

  #toUpstream(data: Buffer): void {
    const upstream = this.#upstream;
    if (upstream === undefined || upstream.write(data) || this.#upstreamFull) return;
    this.#upstreamFull = true;
    this.#flow();
    upstream.once('drain', () => {
      this.#upstreamFull = false;
      this.#flow();
    });
  }

  /** Sends a message upstream and notes what it will be answered with. */
  #forward(data: Buffer, expect?: Pending): void {
    if (expect?.kind === 'sync') this.#upstreamSkipping = false;
    if (expect !== undefined && !this.#upstreamSkipping) this.#pending.push(expect);
    this.#toUpstream(data);
  }

  // ---- the worker's side ----------------------------------------------------------------------

  #pumpClient(): void {
    this.#upstream?.cork();
    try {
      while (this.#phase === 'startup' || this.#phase === 'ready') {
        const frame = this.#reader.next(this.#phase === 'ready');
        if (frame === undefined) return;
        if (!frame.ok) {
          this.#malformed(frame.reason);
          return;
        }
        if (this.#phase === 'startup') this.#onStartup(frame.message);
        else this.#onClientMessage(frame.message);
      }
    } finally {
      this.#upstream?.uncork();
    }
  }

  #onStartup(m: Message): void {
    const startup = readStartup(m.body);
    if (startup === undefined) {
      this.#malformed('a malformed start-up message');
      return;
    }
    if (startup.code === SSL_REQUEST || startup.code === GSSENC_REQUEST) {
      this.#client.write('N');
      return;
    }
    if (startup.code === CANCEL_REQUEST) {
      // The worker cannot be allowed to cancel by key; its queries end with its connection.
      this.close();
      return;
    }
    if (startup.code >> 16 !== 3) {
      this.#fatal(
        errorResponse({
          S: 'FATAL',
          V: 'FATAL',
          C: '0A000',
          M: `unsupported frontend protocol ${startup.code >> 16}.${startup.code & 0xffff}: the leash proxy speaks 3.0`,
        }),
      );
      return;
    }
    const params = new Map<string, string>();
    const unknownOptions: string[] = [];
    for (const [key, value] of startup.params) {
      if (FORWARDED_PARAMS.has(key)) params.set(key, value);
      else if (key.startsWith('_pq_.')) unknownOptions.push(key);
    }
    params.set('client_encoding', 'UTF8');
    const negotiate =
      (startup.code & 0xffff) !== 0 || unknownOptions.length > 0
        ? negotiateProtocolVersion(0, unknownOptions)
        : undefined;
    this.#phase = 'connecting';
    this.#flow();
    const upstream = connectUpstream(this.#settings.upstream);
    this.#upstream = upstream;
    upstream.on('error', (error) => this.#log(`database connection error: ${error.message}`));
    startUpstream(upstream, this.#settings.upstream, params, UPSTREAM_MAX_MESSAGE).then(
      (result) => {
        if (this.#phase === 'closed') {
          upstream.destroy();
          return;
        }
        if (!result.ok) {
          this.#log(`the database refused the proxy's connection: ${result.message}`);
          this.#fatal(result.error);
          return;
        }
        this.#client.cork();
        if (negotiate !== undefined) this.#toClient(negotiate);
        this.#toClient(authenticationOk());
        for (const raw of result.messages) this.#toClient(raw);
        this.#toClient(result.ready);
        this.#client.uncork();
        this.#upstreamReader = result.reader;
        upstream.on('data', (chunk: Buffer) => {
          this.#upstreamReader!.push(chunk);
          this.#pumpUpstream();
        });
        upstream.on('close', () => {
          if (this.#phase === 'closed') return;
          this.#phase = 'closed';
          this.#client.destroySoon();
        });
        this.#phase = 'ready';
        this.#flow();
        this.#pumpUpstream();
        this.#pumpClient();
      },
      (error: unknown) => {
        if (this.#phase === 'closed') return;
        this.#log((error as Error).message);
        this.#fatal(
          errorResponse({
            S: 'FATAL',
            V: 'FATAL',
            C: '08006',
            M: 'the leash database proxy could not open a connection to the database',
          }),
        );
      },
    );
  }

  #decide(statement: GateStatement): GateDecision {
    try {
      return this.#gate(statement);
    } catch (error) {
      this.#log(`the gate failed: ${(error as Error).message}`);
      return {
        allowed: false,
        error: isLeashError(error)
          ? error
          : new LeashError(
              'ERR_LEASH_DENIED',
              'leash could not decide the statement; it was not run',
            ),
      };
    }
  }

  #recall(decision: GateDecision & { allowed: true }): Recall {
    return new Recall(decision.remember, this.#settings.maxRememberedRows, this.#settings.log);
  }

  /** Sends the held Parse messages: the client wants its statements prepared before any Bind. */
  #flushHeld(): void {
    const held = this.#held;
    this.#held = [];
    for (const parse of held) this.#forward(parseMessage(parse), { kind: 'parse' });
  }

  #onClientMessage(m: Message): void {
    if (this.#discarding) {
      if (m.type === 'S') {
        this.#discarding = false;
        this.#forward(m.raw, { kind: 'sync' });
      } else if (m.type === 'X') this.#end();
      return;
    }
    switch (m.type) {
      case 'Q': {
        const text = readQuery(m.body);
        if (text === undefined) {
          this.#malformed('a malformed Query');
          return;
        }
        this.#flushHeld();
        const { sql, token } = splitToken(text);
        const decision = this.#decide({
          dialect: 'postgres',
          sql,
          params: { positional: [] },
          token,
        });
        if (decision.allowed)
          this.#forward(queryMessage(sql), { kind: 'query', recall: this.#recall(decision) });
        else
          this.#forward(queryMessage(REFUSED_SQL), {
            kind: 'query',
            recall: undefined,
            replace: refusal(decision.error),
          });
        return;
      }
      case 'P': {
        const parse = readParse(m.body);
        if (parse === undefined) {
          this.#malformed('a malformed Parse');
          return;
        }
        if (!this.#statements.has(parse.name) && this.#statements.size >= MAX_NAMES) {
          this.#malformed(`more than ${MAX_NAMES} prepared statements`);
          return;
        }
        const { sql, token } = splitToken(parse.sql);
        this.#statements.set(parse.name, { sql, token });
        this.#statementColumns.delete(parse.name);
        // Parse after Parse with no Bind: no reason to hold them all (preparing runs nothing).
        if (this.#held.length >= MAX_HELD) this.#flushHeld();
        this.#held.push({ ...parse, sql });
        return;
      }
      case 'B':
        this.#onBind(m);
        return;
      case 'D': {
        const target = readTarget(m.body);
        if (target === undefined) {
          this.#malformed('a malformed Describe');
          return;
        }
        this.#flushHeld();
        this.#forward(m.raw, { kind: 'describe', target });
        return;
      }
      case 'E': {
        const execute = readExecute(m.body);
        if (execute === undefined) {
          this.#malformed('a malformed Execute');
          return;
        }
        this.#flushHeld();
        this.#forward(m.raw, { kind: 'execute', portal: this.#portals.get(execute.portal) });
        return;
      }
      case 'C': {
        const target = readTarget(m.body);
        if (target === undefined) {
          this.#malformed('a malformed Close');
          return;
        }
        this.#flushHeld();
        if (target.kind === 'S') {
          this.#statements.delete(target.name);
          this.#statementColumns.delete(target.name);
        } else this.#portals.delete(target.name);
        this.#forward(m.raw, { kind: 'close' });
        return;
      }
      case 'S':
        this.#flushHeld();
        this.#forward(m.raw, { kind: 'sync' });
        return;
      case 'H': // Flush
      case 'd': // CopyData
      case 'c': // CopyDone
      case 'f': // CopyFail
        this.#flushHeld();
        this.#forward(m.raw);
        return;
      case 'F': {
        // FunctionCall runs a function by oid: no statement text for the gate to decide.
        this.#flushHeld();
        const error = new LeashError(
          'ERR_LEASH_DENIED',
          'leash refused a fastpath function call: the database proxy decides statements only',
        );
        this.#forward(queryMessage(REFUSED_SQL), {
          kind: 'query',
          recall: undefined,
          replace: refusal(error),
        });
        return;
      }
      case 'X':
        this.#end();
        return;
      default:
        this.#malformed(`an unexpected message ${JSON.stringify(m.type)}`);
        return;
    }
  }

  #onBind(m: Message): void {
    const bind = readBind(m.body);
    if (bind === undefined) {
      this.#malformed('a malformed Bind');
      return;
    }
    const statement = this.#statements.get(bind.statement);
    const decision: GateDecision =
      statement === undefined
        ? {
            allowed: false,
            error: new LeashError(
              'ERR_LEASH_DENIED',
              `leash refused a Bind to prepared statement ${JSON.stringify(bind.statement)}: the database proxy did not see it prepared, so it cannot check its text`,
            ),
          }
        : this.#decide({
            dialect: 'postgres',
            sql: statement.sql,
            params: { positional: bind.params },
            token: statement.token,
          });
    if (decision.allowed) {
      if (!this.#portals.has(bind.portal) && this.#portals.size >= MAX_NAMES) {
        this.#malformed(`more than ${MAX_NAMES} portals`);
        return;
      }
      this.#flushHeld();
      this.#portals.set(bind.portal, {
        statement: bind.statement,
        recall: this.#recall(decision),
        resultFormats: bind.resultFormats,
      });
      this.#forward(m.raw, { kind: 'bind' });
      return;
    }
    // The refused statement's own Parse is never sent; the client's other ones are.
    const held = this.#held;
    this.#held = [];
    for (const parse of held) {
      if (parse.name === bind.statement) this.#statements.delete(parse.name);
      else this.#forward(parseMessage(parse), { kind: 'parse' });
    }
    this.#forward(parseMessage(REFUSED_PARSE), { kind: 'refused', error: refusal(decision.error) });
    this.#discarding = true;
  }

  // ---- the server's side ----------------------------------------------------------------------

  #pumpUpstream(): void {
    const reader = this.#upstreamReader;
    if (reader === undefined) return;
    this.#client.cork();
    try {
      while (this.#phase === 'ready') {
        const frame = reader.next();
        if (frame === undefined) return;
        if (!frame.ok) {
          this.#broken(`the database sent ${frame.reason}`);
          return;
        }
        this.#onUpstreamMessage(frame.message);
      }
    } finally {
      this.#client.uncork();
    }
  }

  /** The columns an Execute of `portal` returns: its own Describe, else its statement's. */
  #columnsOf(portal: Portal): readonly Column[] | undefined {
    if (portal.columns !== undefined) return portal.columns;
    return this.#statementColumns
      .get(portal.statement)
      ?.map((column, i) => ({ name: column.name, format: formatOf(portal.resultFormats, i) }));
  }

  #onUpstreamMessage(m: Message): void {
    const head = this.#pending[0];
    const unexpected = (): void =>
      this.#broken(
        `the database answered ${JSON.stringify(m.type)} where the proxy expected an answer to ${head?.kind ?? 'nothing'}`,
      );
    switch (m.type) {
      case '1': // ParseComplete
      case '2': // BindComplete
      case '3': {
        // CloseComplete
        const kind = m.type === '1' ? 'parse' : m.type === '2' ? 'bind' : 'close';
        if (head?.kind !== kind) {
          unexpected();
          return;
        }
        this.#pending.shift();
        break;
      }
      case 't': // ParameterDescription, before the statement's RowDescription or NoData
        if (head?.kind !== 'describe') {
          unexpected();
          return;
        }
        break;
      case 'n': // NoData
        if (head?.kind !== 'describe') {
          unexpected();
          return;
        }
        this.#pending.shift();
        break;
      case 'T': {
        const columns = readRowDescription(m.body);
        if (columns === undefined) {
          this.#broken('the database sent a malformed RowDescription');
          return;
        }
        if (head?.kind === 'describe') {
          if (head.target.kind === 'S') this.#statementColumns.set(head.target.name, columns);
          else {
            const portal = this.#portals.get(head.target.name);
            if (portal !== undefined) portal.columns = columns;
          }
          this.#pending.shift();
        } else if (head?.kind === 'query') {
          head.result = head.recall === undefined ? undefined : new ResultSet(head.recall, columns);
        } else {
          unexpected();
          return;
        }
        break;
      }
      case 'D':
        if (head?.kind === 'execute') {
          if (head.result === undefined && head.portal !== undefined) {
            const columns = this.#columnsOf(head.portal);
            if (columns !== undefined) head.result = new ResultSet(head.portal.recall, columns);
          }
          head.result?.add(m.body);
        } else if (head?.kind === 'query') head.result?.add(m.body);
        else {
          unexpected();
          return;
        }
        break;
      case 'C': // CommandComplete
      case 's': // PortalSuspended
        if (head?.kind === 'execute') {
          head.result?.finish();
          this.#pending.shift();
        } else if (head?.kind === 'query' && m.type === 'C') {
          head.result?.finish();
          head.result = undefined;
        } else {
          unexpected();
          return;
        }
        break;
      case 'I': // EmptyQueryResponse
        if (head?.kind === 'execute') this.#pending.shift();
        else if (head?.kind !== 'query') {
          unexpected();
          return;
        }
        break;
      case 'E':
        this.#onUpstreamError(m, head);
        return;
      case 'Z': {
        if (head?.kind !== 'sync' && head?.kind !== 'query') {
          unexpected();
          return;
        }
        this.#pending.shift();
        // Outside a transaction block no portal survives.
        if (m.body[0] === 0x49 /* I */) this.#portals.clear();
        break;
      }
      case 'S': {
        const status = readParameterStatus(m.body);
        if (status?.name === 'client_encoding' && status.value.toUpperCase() !== 'UTF8') {
          this.#broken(
            `the connection's client_encoding became ${status.value}; the gate reads statements as UTF-8`,
          );
          return;
        }
        break;
      }
      // Everything else (notices, notifications, COPY responses and data) passes as it is.
    }
    this.#toClient(m.raw);
  }

  #onUpstreamError(m: Message, head: Pending | undefined): void {
    if (head?.kind === 'refused') this.#toClient(head.error);
    else if (head?.kind === 'query' && head.replace !== undefined) {
      this.#toClient(head.replace);
      head.replace = undefined;
    } else this.#toClient(m.raw);
    if (head === undefined) {
      const severity = readFields(m.body)?.get('V');
      if (severity !== 'FATAL' && severity !== 'PANIC')
        this.#log('the database reported an error no message of the worker asked for');
      return;
    }
    if (head.kind === 'query') {
      // A simple query ends with ReadyForQuery after its error.
      head.result = undefined;
      return;
    }
    // The extended protocol: the server skips everything up to the next Sync.
    const sync = this.#pending.findIndex((p) => p.kind === 'sync');
    if (sync < 0) {
      this.#pending = [];
      this.#upstreamSkipping = true;
    } else this.#pending.splice(0, sync);
  }
}
