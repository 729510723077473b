/**
 * @module
 * The report endpoint the agent serves inside the service (default `/__leash/csp-report`), in
 * front of the service's own routes. Reports are attacker-controlled, so it is strict and cheap:
 *
 * | refused because                         | status |
 * | --------------------------------------- | ------ |
 * | not POST (OPTIONS gets 204)             | 405    |
 * | more than `reportsPerMinute` per client | 429    |
 * | neither report content type             | 415    |
 * | no valid, unexpired tag of a route      | 403    |
 * | body larger than `maxReportBytes`       | 413    |
 * | body not sent within 5 s                | 408    |
 * | malformed JSON or report                | 400    |
 *
 * Every refusal is counted (`stats`) and closes the connection; nothing of a refused report is
 * learned. Accepted reports get 204 and go to `onViolations` with the route their tag names.
 */
import type http from 'node:http';
import { isLeashError } from '../../errors.ts';
import { formatOf, parseReports, type Violation } from './report.ts';
import type { Tagger } from './tag.ts';

export type Refusal = 'method' | 'rate' | 'type' | 'tag' | 'size' | 'timeout' | 'malformed';

export interface EndpointOptions {
  readonly path: string;
  readonly maxBytes: number;
  readonly perMinute: number;
  readonly tagger: Tagger;
  readonly onViolations: (route: string, violations: readonly Violation[]) => void;
  readonly onRefused?: (reason: Refusal, detail: string) => void;
  readonly bodyTimeoutMs?: number;
}

export interface ReportEndpoint {
  /** Answers the request when it is for the endpoint; false when it is the service's. */
  handle(request: http.IncomingMessage, response: http.ServerResponse): boolean;
  readonly stats: { accepted: number; refused: Record<Refusal, number> };
}

const MAX_CLIENTS = 10_000;
const STATUS: Record<Refusal, number> = {
  method: 405,
  rate: 429,
  type: 415,
  tag: 403,
  size: 413,
  timeout: 408,
  malformed: 400,
};

export function createReportEndpoint(options: EndpointOptions): ReportEndpoint {
  const stats = {
    accepted: 0,
    refused: { method: 0, rate: 0, type: 0, tag: 0, size: 0, timeout: 0, malformed: 0 },
  };
  /** Per client address: reports in the current minute. */
  let window = 0;
  let counts = new Map<string, number>();

  const overRate = (client: string): boolean => {
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== window || counts.size > MAX_CLIENTS) {
      window = minute;
      counts = new Map();
    }
    const count = (counts.get(client) ?? 0) + 1;
    counts.set(client, count);
    return count > options.perMinute;
  };

  const refuse = (response: http.ServerResponse, reason: Refusal, detail: string): void => {
    stats.refused[reason]++;
    options.onRefused?.(reason, detail);
    if (response.headersSent) return;
    const body = `${detail}\n`;
    response.writeHead(STATUS[reason], {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    response.end(body);
  };

  return {
    stats,
    handle(request, response) {
      const url = request.url ?? '/';
      // Every request asks: the path compared in place, no copy of it made.
      if (!url.startsWith(options.path)) return false;
      const query = url.indexOf('?');
      if ((query < 0 ? url.length : query) !== options.path.length) return false;
      if (request.method === 'OPTIONS') {
        response.writeHead(204, { allow: 'POST' });
        response.end();
        return true;
      }
      if (request.method !== 'POST') {
        refuse(response, 'method', 'reports are POSTed');
        return true;
      }
      const client = request.socket.remoteAddress ?? '?';
      if (overRate(client)) {
        refuse(response, 'rate', 'too many reports from this client');
        return true;
      }
      const format = formatOf(request.headers['content-type']);
      if (format === undefined) {
        refuse(response, 'type', 'expected application/csp-report or application/reports+json');
        return true;
      }
      const tag = new URLSearchParams(query < 0 ? '' : url.slice(query + 1)).get('t');
      const verdict =
        tag === null ? { ok: false as const, reason: 'no tag' } : options.tagger.verify(tag);
      if (!verdict.ok) {
        refuse(response, 'tag', `report refused: ${verdict.reason}`);
        return true;
      }
      const declared = Number(request.headers['content-length'] ?? 0);
      if (declared > options.maxBytes) {
        refuse(response, 'size', `a report body is at most ${options.maxBytes} bytes`);
        return true;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (fn: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        fn();
      };
      const timer = setTimeout(
        () =>
          finish(() => {
            refuse(response, 'timeout', 'the report body was not sent in time');
            request.destroy();
          }),
        options.bodyTimeoutMs ?? 5000,
      );
      timer.unref();
      request.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        if (size > options.maxBytes) {
          finish(() =>
            refuse(response, 'size', `a report body is at most ${options.maxBytes} bytes`),
          );
          return;
        }
        chunks.push(chunk);
      });
      request.on('error', () => finish(() => request.destroy()));
      request.on('end', () =>
        finish(() => {
          let violations: Violation[];
          try {
            violations = parseReports(Buffer.concat(chunks).toString('utf8'), format);
          } catch (error) {
            if (!isLeashError(error, 'ERR_LEASH_CSP_REPORT')) throw error;
            refuse(response, 'malformed', error.message);
            return;
          }
          stats.accepted++;
          response.writeHead(204);
          response.end();
          options.onViolations(verdict.route, violations);
        }),
      );
      return true;
    },
  };
}
