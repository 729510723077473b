/**
 * @module
 * An HTTP client for the workloads: one cookie jar per instance (so one instance is one logged-in
 * user), and a shared tally of requests and failures. Failures are recorded, never thrown, so a
 * workload always runs to the end and reports everything that went wrong.
 */

export interface Failure {
  method: string;
  path: string;
  /** The HTTP status, or 0 when no response came back at all. */
  status: number;
  reason?: string;
}

export interface Tally {
  requests: number;
  failures: Failure[];
}

export interface Reply {
  ok: boolean;
  status: number;
  body: string;
}

export interface SendOptions {
  json?: unknown;
  body?: Uint8Array | string;
  contentType?: string;
}

export class Client {
  readonly base: string;
  readonly tally: Tally;
  readonly #cookies = new Map<string, string>();

  constructor(base: string, tally: Tally = { requests: 0, failures: [] }) {
    this.base = base.replace(/\/$/, '');
    this.tally = tally;
  }

  /** Sends one request; a non-2xx answer or a network error is added to the tally's failures. */
  async send(method: string, path: string, options: SendOptions = {}): Promise<Reply> {
    this.tally.requests++;
    const headers: Record<string, string> = {};
    if (this.#cookies.size > 0) {
      headers.cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    let body: Uint8Array | string | undefined = options.body;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    } else if (options.contentType !== undefined) {
      headers['content-type'] = options.contentType;
    }
    try {
      const res = await fetch(this.base + path, {
        method,
        headers,
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
        ...(body === undefined ? {} : { body }),
      });
      this.#remember(res.headers.getSetCookie());
      const reply = { ok: res.ok, status: res.status, body: await res.text() };
      if (!reply.ok) this.fail(method, path, reply.status, reply.body.slice(0, 200));
      return reply;
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.fail(method, path, 0, reason);
      return { ok: false, status: 0, body: '' };
    }
  }

  /** Sends and parses a JSON answer; undefined when the request failed. */
  async json<T>(method: string, path: string, options: SendOptions = {}): Promise<T | undefined> {
    const reply = await this.send(method, path, options);
    if (!reply.ok) return undefined;
    try {
      return JSON.parse(reply.body) as T;
    } catch {
      this.fail(method, path, reply.status, 'answer is not JSON');
      return undefined;
    }
  }

  fail(method: string, path: string, status: number, reason?: string): void {
    this.tally.failures.push({ method, path, status, ...(reason ? { reason } : {}) });
  }

  #remember(setCookies: string[]): void {
    for (const line of setCookies) {
      const pair = line.split(';', 1)[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = /;\s*expires=Thu, 01 Jan 1970/i.test(line) || /;\s*max-age=0/i.test(line);
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
}
