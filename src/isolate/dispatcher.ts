/**
 * @module
 * The front door under `--isolate` (Passe's dispatcher): decides a request's route from the learned
 * route table, who is logged in from the supervisor's own session table, and the request's inputs
 * from its URL and body; records all of that under a fresh request id, mints the token that names
 * it, and forwards the request with the token to a worker of the route's group — never to a worker
 * of another group. A request that matches no learned route goes to the unprivileged group.
 */
import http from 'node:http';
import { UNMATCHED } from '../attribution/scope.ts';
import { requestInputs } from '../modules/sql/sources.ts';
import { TOKEN_HEADER } from './gate.ts';
import { UNPRIVILEGED } from './groups.ts';
import type { RequestRegistry } from './requests.ts';
import type { RouteTable } from './routes.ts';
import { sessionIdsOf } from './sessions.ts';
import type { TokenIssuer } from './token.ts';
import type { WorkerSlot } from './worker-pool.ts';

export interface DispatcherOptions {
  readonly table: RouteTable;
  /** Route → group name; a route not in it goes to the unprivileged group. */
  readonly groupOf: ReadonlyMap<string, string>;
  /** A ready worker of the group, in turn. */
  readonly pick: (group: string) => WorkerSlot | undefined;
  readonly tokens: TokenIssuer;
  readonly requests: RequestRegistry;
  /** Who the request's session cookies say is logged in. */
  readonly principalOf: (sessionIds: readonly string[]) => string | undefined;
  readonly inputHeaders: readonly string[];
  readonly tokenMs: number;
  readonly maxBodyBytes: number;
  readonly log: (message: string) => void;
}

export interface DispatchedRequest {
  readonly rid: string;
  readonly route: string;
  readonly group: string;
  readonly worker: string | undefined;
  readonly status: number;
}

const PARSED_BODY = /^application\/(?:[\w.+-]+\+)?json\b|^application\/x-www-form-urlencoded\b/i;

/** Hop-by-hop headers (RFC 9110 §7.6.1) are the connection's, not the request's. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

function parseBody(type: string, text: string): unknown {
  try {
    if (/json/i.test(type)) return JSON.parse(text);
    const out: Record<string, string | string[]> = {};
    for (const [key, value] of new URLSearchParams(text)) {
      const had = out[key];
      out[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    }
    return out;
  } catch {
    // The service answers a malformed body; the dispatcher only loses that body's inputs.
    return undefined;
  }
}

function forwardedHeaders(
  request: http.IncomingMessage,
  token: string,
  body: Buffer | undefined,
): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || name === TOKEN_HEADER) continue;
    out[name] = value;
  }
  if (body !== undefined) out['content-length'] = String(body.length);
  out[TOKEN_HEADER] = token;
  return out;
}

export function createDispatcher(
  options: DispatcherOptions,
  dispatched?: (request: DispatchedRequest) => void,
): http.RequestListener {
  let next = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  /**
   * `body`: the whole body, read for its inputs; else the request streams through, after
   * `prefix` (what was read of a body that turned out larger than maxBodyBytes).
   */
  const forward = (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    body: Buffer | undefined,
    prefix: readonly Buffer[] = [],
  ) => {
    const url = request.url ?? '/';
    const match = options.table.match(request.method ?? 'GET', url);
    const route = match?.route ?? UNMATCHED;
    const group = match === undefined ? UNPRIVILEGED : (options.groupOf.get(route) ?? UNPRIVILEGED);
    const sessions = sessionIdsOf(request.headers.cookie);
    const principal = options.principalOf(sessions);
    const parsed =
      body === undefined
        ? undefined
        : parseBody(request.headers['content-type'] ?? '', body.toString('utf8'));
    const inputs = requestInputs(
      { params: match?.params ?? {}, url, body: parsed, headers: request.headers },
      options.inputHeaders,
    );
    const rid = (++next).toString(36);
    const token = options.tokens.mint({ rid, route, principal: principal ?? null });
    options.requests.add({
      rid,
      route,
      group,
      principal,
      inputs,
      sessions,
      expires: Date.now() + options.tokenMs,
    });
    const slot = options.pick(group);
    let finished = false;
    const done = (status: number) => {
      if (finished) return;
      finished = true;
      if (slot !== undefined) slot.inFlight--;
      dispatched?.({ rid, route, group, worker: slot?.name, status });
    };
    if (slot !== undefined) slot.inFlight++;
    if (slot === undefined) {
      response.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' });
      response.end(`no worker of group ${group} is ready\n`);
      done(503);
      return;
    }
    const upstream = http.request({
      host: '127.0.0.1',
      port: slot.port,
      method: request.method,
      path: url,
      headers: forwardedHeaders(request, token, body),
      agent,
    });
    upstream.on('response', (answer) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(answer.headers))
        if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
      answer.pipe(response);
      answer.once('end', () => done(answer.statusCode ?? 502));
    });
    upstream.on('error', (error) => {
      options.log(`${slot.name}: ${request.method} ${url}: ${error.message}`);
      if (!response.headersSent) {
        response.writeHead(502, { 'content-type': 'text/plain' });
        response.end(`the worker of group ${group} failed\n`);
      } else response.destroy();
      done(502);
    });
    // A client that goes away takes its forwarded request with it.
    response.once('close', () => {
      if (!response.writableFinished) upstream.destroy();
      done(response.statusCode);
    });
    if (body !== undefined) upstream.end(body);
    else {
      for (const chunk of prefix) upstream.write(chunk);
      request.pipe(upstream);
    }
  };

  return (request, response) => {
    const type = request.headers['content-type'] ?? '';
    const length = Number(request.headers['content-length'] ?? Number.NaN);
    const readable =
      PARSED_BODY.test(type) &&
      (request.headers['content-length'] === undefined || length <= options.maxBodyBytes);
    if (!readable) return forward(request, response, undefined);
    // A body without a length is read until it is known to fit; one that does not is passed on
    // whole (what was read, then the rest), without its inputs, like one too large to read.
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      chunks.push(chunk);
      if (size <= options.maxBodyBytes) return;
      request.off('data', onData);
      request.off('end', onEnd);
      request.pause();
      forward(request, response, undefined, chunks);
    };
    const onEnd = () => forward(request, response, Buffer.concat(chunks));
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', () => response.destroy());
  };
}
