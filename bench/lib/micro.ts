/**
 * @module
 * Micro-benchmarks with tinybench, and the protocol between a `*.bench.ts` file and the runner:
 * a bench file run as `node --conditions=leash-source bench/x.bench.ts [--quick]` prints one JSON
 * line, `{"micro": MicroResult[], "growth": GrowthResult[], "notes": string[]}`.
 *
 * Operations far below a microsecond are timed in batches (`batch` calls per sample) so that
 * the timer's own cost does not swamp them; results are per single call.
 */
import { Bench } from 'tinybench';

export interface MicroCase {
  readonly group: string;
  readonly name: string;
  /** Calls of the operation per invocation of `fn` (fn loops itself). */
  readonly batch: number;
  readonly fn: () => unknown;
  /** Which target this case is compared against, if any (see bench/targets.ts). */
  readonly target?: string;
  readonly note?: string;
}

export interface MicroResult {
  group: string;
  name: string;
  /** Median time per call, nanoseconds. */
  medianNs: number;
  /** Mean time per call, nanoseconds. */
  meanNs: number;
  /** 99th percentile of the per-sample time per call, nanoseconds. */
  p99Ns: number;
  /** Relative margin of error of the mean, percent. */
  rme: number;
  samples: number;
  target?: string;
  note?: string;
}

export interface GrowthPoint {
  n: number;
  /** Median milliseconds over `repeats` runs. */
  ms: number;
  min: number;
  max: number;
  repeats: number;
  /** What the operation produced (rules after simplify, say), for the table. */
  output?: number;
}

export interface GrowthResult {
  name: string;
  points: GrowthPoint[];
  target?: string;
  note?: string;
}

export interface BenchFileOutput {
  micro: MicroResult[];
  growth: GrowthResult[];
  notes: string[];
}

export interface MicroOptions {
  /** Sampling time per case, ms. */
  readonly timeMs: number;
  readonly warmupMs: number;
}

export function microOptions(quick: boolean): MicroOptions {
  return quick ? { timeMs: 150, warmupMs: 50 } : { timeMs: 1000, warmupMs: 250 };
}

/** Sink that keeps results alive so the optimiser cannot drop the measured calls. */
export let sink: unknown;
export function keep(value: unknown): void {
  sink = value;
}

export async function runMicro(
  cases: readonly MicroCase[],
  options: MicroOptions,
): Promise<MicroResult[]> {
  const bench = new Bench({ time: options.timeMs, warmupTime: options.warmupMs, throws: true });
  for (const c of cases) bench.add(`${c.group} / ${c.name}`, c.fn);
  await bench.run();
  return cases.map((c, i) => {
    const task = bench.tasks[i]!;
    const result = task.result as {
      state: string;
      latency?: { p50: number; mean: number; p99: number; rme: number; samplesCount: number };
      error?: Error;
    };
    if (result.latency === undefined) {
      throw new Error(`${c.group} / ${c.name}: ${result.state} ${result.error?.message ?? ''}`);
    }
    const perCall = (ms: number) => (ms * 1e6) / c.batch;
    return {
      group: c.group,
      name: c.name,
      medianNs: perCall(result.latency.p50),
      meanNs: perCall(result.latency.mean),
      p99Ns: perCall(result.latency.p99),
      rme: result.latency.rme,
      samples: result.latency.samplesCount,
      ...(c.target === undefined ? {} : { target: c.target }),
      ...(c.note === undefined ? {} : { note: c.note }),
    };
  });
}

/** Times `run(input)` `repeats` times on inputs made fresh by `make` (not timed). */
export function timeGrowth<T>(
  sizes: readonly number[],
  repeatsFor: (n: number) => number,
  make: (n: number) => T,
  run: (input: T) => number | undefined,
): GrowthPoint[] {
  const points: GrowthPoint[] = [];
  for (const n of sizes) {
    const times: number[] = [];
    let output: number | undefined;
    const repeats = repeatsFor(n);
    // One untimed run at the first size: the JIT compiles the code paths.
    if (points.length === 0) run(make(n));
    for (let i = 0; i < repeats; i++) {
      const input = make(n);
      const t0 = process.hrtime.bigint();
      output = run(input);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    const mid = times.length >> 1;
    points.push({
      n,
      ms: times.length % 2 === 1 ? times[mid]! : (times[mid - 1]! + times[mid]!) / 2,
      min: times[0]!,
      max: times[times.length - 1]!,
      repeats,
      ...(output === undefined ? {} : { output }),
    });
  }
  return points;
}

/** Prints a bench file's output for the runner. */
export function emit(output: BenchFileOutput): void {
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

export const isQuick = (): boolean => process.argv.includes('--quick');
