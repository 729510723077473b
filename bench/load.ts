/**
 * @module
 * The load generator, in a process of its own (the runner pins it to another core than the
 * service): `node bench/load.ts <spec.json>` runs autocannon with the spec and prints one JSON
 * line with what it measured; `--serve` reads specs from stdin, one per line. Latencies are taken from each response (autocannon's own histogram
 * rounds to whole milliseconds).
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

export interface LoadRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadSpec {
  url: string;
  connections: number;
  /** Stop after this many responses (all connections together). */
  amount: number;
  requests: LoadRequest[];
  /** Per-request timeout, seconds. */
  timeoutSeconds?: number;
}

export interface LoadResult {
  /** Responses received. */
  responses: number;
  /** Responses with a status outside 2xx. */
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Wall-clock seconds from the first request to the last response. */
  seconds: number;
  requestsPerSecond: number;
  /** Latency in milliseconds. */
  p50: number;
  p99: number;
  mean: number;
  /** Status code → count, for the non-2xx ones. */
  statuses: Record<string, number>;
}

function quantileOf(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const latencies = new Float64Array(spec.amount + spec.connections * 2);
  let count = 0;
  let non2xx = 0;
  const statuses: Record<string, number> = {};
  const started = process.hrtime.bigint();
  let last = started;
  // Without a callback autocannon returns its instance, which is also a promise of the result.
  const instance = autocannon({
    url: spec.url,
    connections: spec.connections,
    amount: spec.amount,
    timeout: spec.timeoutSeconds ?? 10,
    // autocannon notices that the amount is reached at its next sample tick (default: 1 s).
    sampleInt: 20,
    requests: spec.requests.map((r) => ({
      method: r.method as 'GET',
      path: r.path,
      ...(r.headers === undefined ? {} : { headers: r.headers }),
      ...(r.body === undefined ? {} : { body: r.body }),
    })),
  }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (count < latencies.length) latencies[count] = ms;
    count++;
    last = process.hrtime.bigint();
    if (status < 200 || status > 299) {
      non2xx++;
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  });
  const result = await instance;
  const seconds = Number(last - started) / 1e9;
  const sorted = latencies.subarray(0, Math.min(count, latencies.length)).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    responses: count,
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    requestsPerSecond: count / seconds,
    p50: quantileOf(sorted, 0.5),
    p99: quantileOf(sorted, 0.99),
    mean: sum / sorted.length,
    statuses,
  };
}

if (import.meta.main) {
  const file = process.argv[2];
  if (file === '--serve') {
    // One spec per line on stdin, one result per line on stdout, until stdin ends: the runner
    // keeps one load generator for the whole benchmark instead of starting one per measurement.
    const lines = createInterface({ input: process.stdin });
    for await (const line of lines) {
      if (line.trim() === '') continue;
      try {
        const result = await runLoad(JSON.parse(line) as LoadSpec);
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } catch (error) {
        process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
      }
    }
  } else if (file !== undefined) {
    const spec = JSON.parse(readFileSync(file, 'utf8')) as LoadSpec;
    process.stdout.write(`${JSON.stringify(await runLoad(spec))}\n`);
  } else {
    process.stderr.write('usage: node bench/load.ts <spec.json> | --serve\n');
    process.exit(2);
  }
}
