// What the tests of real services share: starting an unmodified service from npm under
// `leash learn|enforce` in a directory of its own, a client that records every answer that is not
// the one expected (with its body), the compromised dependency they load and a loopback server of
// the test's own for it to aim at.
import { once } from 'node:events';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  groupAlive,
  killGroup,
  STARTUP_LIMIT_MS,
  spawnGroup,
  withinLimit,
} from '../support/processes.ts';

export const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const COMPROMISED = fileURLToPath(new URL('./fixtures/compromised-telemetry.mjs', import.meta.url));

export interface Service {
  readonly base: string;
  stderr(): string;
  /** SIGTERM to `leash` (which passes it on), then the whole group is gone. */
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly mode: 'learn' | 'enforce';
  readonly policy: string;
  /** The service's command line, without `leash`. */
  readonly command: readonly string[];
  readonly cwd: string;
  readonly port: number;
  readonly env?: NodeJS.ProcessEnv;
}

async function answers(base: string): Promise<boolean> {
  try {
    await fetch(base, { signal: AbortSignal.timeout(2000) });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `leash <mode> --policy <policy> -- <command>` in its own process group and waits until
 * the service answers HTTP on 127.0.0.1:<port> (a real service prints its own kind of banner).
 */
export async function startService(options: StartOptions): Promise<Service> {
  const { NODE_TEST_CONTEXT: _, NODE_OPTIONS: __, ...inherited } = process.env;
  const child = spawnGroup(
    process.execPath,
    [BIN, options.mode, '--policy', options.policy, '--', ...options.command],
    {
      cwd: options.cwd,
      env: {
        ...inherited,
        NO_COLOR: '1',
        LEASH_MODE: '',
        LEASH_CONFIG: '',
        LEASH_POLICY: '',
        LEASH_LOG_FORMAT: 'json',
        ...options.env,
      },
    },
  );
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = once(child, 'exit');
  const base = `http://127.0.0.1:${options.port}`;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const ready = (async () => {
    while (!(await answers(base))) {
      if (gone) throw new Error(`the service exited before answering: ${out}\n${err}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  await withinLimit(
    ready,
    STARTUP_LIMIT_MS,
    () => killGroup(child),
    () => `the service did not answer on ${base}; killed: ${out}\n${err}`,
  );
  return {
    base,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      if (child.exitCode === null && child.signalCode === null)
        await withinLimit(
          exited,
          STARTUP_LIMIT_MS,
          () => killGroup(child),
          () => `the service did not stop after SIGTERM; killed: ${err}`,
        );
      if (groupAlive(child)) killGroup(child);
    },
  };
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly bytes: ArrayBuffer;
  json<T = unknown>(): T;
}

export interface CallOptions {
  readonly json?: unknown;
  readonly body?: Uint8Array | string;
  readonly headers?: Record<string, string>;
  /** The statuses this request may legitimately get (default: any 2xx). */
  readonly expect?: readonly number[];
}

/**
 * A client that counts its requests and keeps every answer it did not expect, with the body, so
 * an assertion on `failures` says which request failed and what the service said.
 */
export class Workload {
  requests = 0;
  readonly failures: string[] = [];
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    let body: Uint8Array | string | undefined = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    this.requests++;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.base), {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      });
    } catch (error) {
      // A connection the service dropped: a failure like any other, with what the client saw.
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? String(error);
      this.failures.push(`${method} ${path} → no answer: ${cause}`);
      const bytes = new ArrayBuffer(0);
      return { status: 0, headers: new Headers(), text: '', bytes, json: () => ({}) as never };
    }
    const bytes = await response.arrayBuffer();
    const text = new TextDecoder().decode(bytes);
    const expected = options.expect?.includes(response.status) ?? response.ok;
    if (!expected) this.failures.push(`${method} ${path} → ${response.status}: ${text}`);
    return {
      status: response.status,
      headers: response.headers,
      text,
      bytes,
      json: <T>() => JSON.parse(text) as T,
    };
  }
}

/** The facts (`scope › package › capability › resource`) of each violation leash logged. */
export function violations(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.includes('"event":"violation"'))
    .map((line) => (JSON.parse(line) as { facts: string[] }).facts.join(' › '));
}

/**
 * Puts the compromised dependency into `<app>/node_modules/telemetry-agent`; returns the path to
 * pass to `node --import`.
 */
export function installCompromised(app: string): string {
  const dir = join(app, 'node_modules', 'telemetry-agent');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'telemetry-agent', version: '3.1.4', type: 'module' }),
  );
  copyFileSync(COMPROMISED, join(dir, 'index.mjs'));
  return join(dir, 'index.mjs');
}

/** The attacker's orders to the compromised dependency. */
export interface Orders {
  readonly read: string;
  readonly write: string;
  readonly ssrf: string;
}

export type Results = Record<keyof Orders, string>;

/**
 * Sends `orders` with a request to `path` (a route of the service, so they run in its scope), then
 * collects what the compromised dependency reports once its call to `orders.ssrf` has ended.
 */
export async function sendOrders(base: string, path: string, orders: Orders): Promise<Results> {
  const id = `${process.pid}-${Math.random()}`;
  await fetch(new URL(path, base), {
    headers: { 'x-telemetry-orders': JSON.stringify({ ...orders, id }) },
  }).then((response) => response.arrayBuffer());
  for (;;) {
    const response = await fetch(new URL(path, base), { headers: { 'x-telemetry-collect': id } });
    await response.arrayBuffer();
    const header = response.headers.get('x-telemetry-results');
    const results = header === null ? undefined : (JSON.parse(header) as Partial<Results>);
    if (results?.ssrf !== undefined) return results as Results;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A server of the test's own on 127.0.0.9 that an SSRF would reach; it counts what reaches it. */
export interface Target {
  readonly url: string;
  readonly hits: string[];
  close(): Promise<void>;
}

export async function startTarget(secret: string): Promise<Target> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end(secret);
  });
  server.listen(0, '127.0.0.9');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.9:${port}/`,
    hits,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
