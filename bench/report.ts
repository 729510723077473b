/**
 * @module
 * From raw results to what people read: per-configuration summaries with ratios to the baseline
 * of the same round, the targets with met / missed, BENCHMARKS.md, and the comparison of two
 * result files.
 */
import { joinAtMarker, splitAtMarker } from './lib/hand-written.ts';
import type { GrowthResult, MicroResult } from './lib/micro.ts';
import type { Measurement, VariantResult } from './lib/rounds.ts';
import { growthExponent, medianInterval, type Summary, summarize } from './lib/stats.ts';

export interface Environment {
  date: string;
  node: string;
  cpuModel: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  commit: string;
  command: string;
  quick: boolean;
  pinned: boolean;
  /** Which leash the services ran (absent in results from before it was recorded: the sources). */
  leash?: string;
  durationSeconds: number;
}

export interface Results {
  version: 1;
  environment: Environment;
  micro: MicroResult[];
  growth: GrowthResult[];
  notes: string[];
  service: VariantResult[];
  summary: VariantSummary[];
  /** The light route (bench/light.bench.ts); absent in results from before it existed. */
  light?: VariantResult[];
  lightSummary?: VariantSummary[];
  targets: TargetResult[];
}

export const METRICS = [
  { key: 'cpuPerRequestMs', label: 'CPU/request', unit: 'ms', better: 'lower' },
  { key: 'requestsPerSecond', label: 'requests/s', unit: '', better: 'higher' },
  { key: 'p50Ms', label: 'p50 latency', unit: 'ms', better: 'lower' },
  { key: 'p99Ms', label: 'p99 latency', unit: 'ms', better: 'lower' },
  { key: 'peakRssMb', label: 'peak RSS', unit: 'MiB', better: 'lower' },
] as const;

export type MetricKey = (typeof METRICS)[number]['key'];

export interface MetricSummary {
  value: Summary;
  /** Ratio to the baseline measured in the same round. */
  ratio: Summary;
  /** About 95 % confidence interval of the median ratio (order statistics). */
  ratioInterval: { lo: number; hi: number };
}

export interface ConfigSummary {
  config: string;
  label: string;
  rounds: number;
  metrics: Record<MetricKey, MetricSummary>;
  /** The wrapping leash CLI's CPU per measurement, ms (median), or null without a wrapper. */
  wrapperCpuMs: number | null;
  /** The wrapping leash CLI's peak RSS over the run, MiB (the largest), or null: none or unmeasured. */
  wrapperPeakRssMb: number | null;
  /** PSS summed over the measured processes at the end of each measurement, MiB. */
  pssMb: Summary;
  /** Processes whose CPU and memory are summed (median; 1: the service process alone). */
  processes: number;
  /** Measured processes that ended, or started, during a measurement (all rounds together). */
  processesLost: number;
  processesStarted: number;
  non2xx: number;
  errors: number;
}

export interface VariantSummary {
  variant: string;
  skipped?: string;
  configs: ConfigSummary[];
  /** Half the min–max range of the baseline's rounds, relative to its median, per metric. */
  baselineNoise: Record<MetricKey, number>;
}

export function summarizeVariant(result: VariantResult): VariantSummary {
  const empty = {} as Record<MetricKey, number>;
  if (result.skipped !== undefined)
    return { variant: result.variant, skipped: result.skipped, configs: [], baselineNoise: empty };
  const byRound = new Map<number, Map<string, Measurement>>();
  for (const m of result.measurements) {
    let round = byRound.get(m.round);
    if (round === undefined) {
      round = new Map();
      byRound.set(m.round, round);
    }
    round.set(m.config, m);
  }
  const configs: ConfigSummary[] = [];
  for (const setup of result.configurations) {
    const own = result.measurements.filter((m) => m.config === setup.id);
    if (own.length === 0) continue;
    const metrics = {} as Record<MetricKey, MetricSummary>;
    for (const { key } of METRICS) {
      const ratios: number[] = [];
      for (const m of own) {
        const base = byRound.get(m.round)?.get('baseline');
        if (base !== undefined) ratios.push(m[key] / base[key]);
      }
      metrics[key] = {
        value: summarize(own.map((m) => m[key])),
        ratio: summarize(ratios),
        ratioInterval: medianInterval(ratios),
      };
    }
    const wrappers = own.map((m) => m.wrapperCpuMs).filter((v): v is number => v !== null);
    const wrapperRss = own
      .map((m) => m.wrapperPeakRssMb)
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    configs.push({
      config: setup.id,
      label: setup.label,
      rounds: own.length,
      metrics,
      wrapperCpuMs: wrappers.length === 0 ? null : summarize(wrappers).median,
      wrapperPeakRssMb: wrapperRss.length === 0 ? null : Math.max(...wrapperRss),
      pssMb: summarize(own.map((m) => m.pssMb ?? Number.NaN)),
      processes: summarize(own.map((m) => m.processes ?? 1)).median,
      processesLost: own.reduce((a, m) => a + (m.processesLost ?? 0), 0),
      processesStarted: own.reduce((a, m) => a + (m.processesStarted ?? 0), 0),
      non2xx: own.reduce((a, m) => a + m.non2xx, 0),
      errors: own.reduce((a, m) => a + m.errors, 0),
    });
  }
  const baseline = configs.find((c) => c.config === 'baseline');
  const baselineNoise = {} as Record<MetricKey, number>;
  for (const { key } of METRICS) {
    const v = baseline?.metrics[key].value;
    baselineNoise[key] = v === undefined ? Number.NaN : (v.max - v.min) / 2 / v.median;
  }
  return { variant: result.variant, configs, baselineNoise };
}

// ---------------------------------------------------------------------------------------------
// Targets

export interface TargetResult {
  id: string;
  description: string;
  goal: string;
  measured: string;
  status: 'met' | 'missed' | 'not measured';
  /** When the ~95 % interval of the median reaches across the goal. */
  withinNoise?: boolean;
}

function ratioTarget(
  summaries: VariantSummary[],
  config: string,
  metric: MetricKey,
  goal: number,
  higherIsBetter: boolean,
  description: string,
): TargetResult[] {
  const out: TargetResult[] = [];
  const goalText = `${higherIsBetter ? '≥' : '≤'} ${goal.toFixed(2)}×`;
  for (const s of summaries) {
    const c = s.configs.find((x) => x.config === config);
    const id = `${config}-${metric}-${s.variant}`;
    if (c === undefined) {
      out.push({
        id,
        description: `${description} (${s.variant})`,
        goal: goalText,
        measured: s.skipped ?? 'not measured',
        status: 'not measured',
      });
      continue;
    }
    const m = c.metrics[metric];
    const ok = (v: number) => (higherIsBetter ? v >= goal : v <= goal);
    out.push({
      id,
      description: `${description} (${s.variant})`,
      goal: goalText,
      measured: `${m.ratio.median.toFixed(3)}× (95 % CI ${m.ratioInterval.lo.toFixed(3)}–${m.ratioInterval.hi.toFixed(3)})`,
      status: ok(m.ratio.median) ? 'met' : 'missed',
      withinNoise: ok(m.ratioInterval.lo) !== ok(m.ratioInterval.hi),
    });
  }
  return out;
}

/**
 * A configuration's CPU/request against a peer's (sandworm) measured in the same round: the
 * median of the per-round ratios, with its ~95 % interval.
 */
function peerTarget(
  results: readonly VariantResult[],
  config: string,
  peer: string,
  goal: number,
  description: string,
): TargetResult[] {
  return results.map((v) => {
    const id = `${config}-vs-${peer}-${v.variant}`;
    const ratios: number[] = [];
    for (const m of v.measurements) {
      if (m.config !== config) continue;
      const other = v.measurements.find((x) => x.round === m.round && x.config === peer);
      if (other !== undefined) ratios.push(m.cpuPerRequestMs / other.cpuPerRequestMs);
    }
    const goalText = `≤ ${goal.toFixed(2)}× ${peer}'s`;
    if (ratios.length === 0)
      return {
        id,
        description: `${description} (${v.variant})`,
        goal: goalText,
        measured: v.skipped ?? `not measured (${peer} or ${config} missing)`,
        status: 'not measured',
      };
    const med = summarize(ratios).median;
    const ci = medianInterval(ratios);
    return {
      id,
      description: `${description} (${v.variant})`,
      goal: goalText,
      measured: `${med.toFixed(3)}× (95 % CI ${ci.lo.toFixed(3)}–${ci.hi.toFixed(3)})`,
      status: med <= goal ? 'met' : 'missed',
      withinNoise: ci.lo <= goal !== ci.hi <= goal,
    };
  });
}

/** The largest peak RSS of the `leash` CLI that waits for the service (not the supervisor of --isolate). */
function wrapperTarget(results: readonly VariantResult[], goalMb: number): TargetResult {
  const peaks: Array<{ config: string; mb: number }> = [];
  for (const v of results)
    for (const m of v.measurements)
      if (m.config !== 'enforce-isolate' && typeof m.wrapperPeakRssMb === 'number')
        peaks.push({ config: m.config, mb: m.wrapperPeakRssMb });
  const base = {
    id: 'light-wrapper-rss',
    description: 'light route: peak RSS of the `leash` CLI process that wraps the service',
    goal: `≤ ${goalMb} MiB`,
  };
  if (peaks.length === 0) return { ...base, measured: 'not measured', status: 'not measured' };
  const worst = peaks.reduce((a, b) => (b.mb > a.mb ? b : a));
  return {
    ...base,
    measured: `${worst.mb.toFixed(1)} MiB (largest, ${worst.config})`,
    status: worst.mb <= goalMb ? 'met' : 'missed',
  };
}

/** Issue 14's goals for the light route. */
function lightTargets(results: Omit<Results, 'targets'>): TargetResult[] {
  const light = results.light ?? [];
  const s = results.lightSummary ?? [];
  if (light.length === 0) return [];
  return [
    ...ratioTarget(
      s,
      'enforce-kernel',
      'cpuPerRequestMs',
      1.1,
      false,
      'light route: enforce (default layers): CPU/request',
    ),
    ...ratioTarget(s, 'learn', 'cpuPerRequestMs', 1.25, false, 'light route: learn: CPU/request'),
    // "Far below sandworm": at most 0.6 of its CPU/request, which the two goals above imply
    // for sandworm's 2.47× of issue 14.
    ...peerTarget(
      light,
      'enforce-kernel',
      'sandworm',
      0.6,
      'light route: enforce (default layers) CPU/request against sandworm',
    ),
    ...peerTarget(
      light,
      'learn',
      'sandworm',
      0.6,
      'light route: learn CPU/request against sandworm',
    ),
    wrapperTarget(light, 40),
    ...ratioTarget(
      s,
      'enforce-kernel',
      'peakRssMb',
      1.15,
      false,
      'light route: enforce (default layers): peak RSS of the service',
    ),
  ];
}

function microTarget(
  micro: MicroResult[],
  target: string,
  goalNs: number,
  description: string,
): TargetResult {
  const cases = micro.filter((m) => m.target === target);
  if (cases.length === 0) {
    return {
      id: target,
      description,
      goal: `≤ ${fmtNs(goalNs)}`,
      measured: 'not measured',
      status: 'not measured',
    };
  }
  const worst = cases.reduce((a, b) => (b.medianNs > a.medianNs ? b : a));
  const best = cases.reduce((a, b) => (b.medianNs < a.medianNs ? b : a));
  return {
    id: target,
    description,
    goal: `≤ ${fmtNs(goalNs)}`,
    measured:
      cases.length === 1
        ? `${fmtNs(worst.medianNs)}`
        : `${fmtNs(best.medianNs)} (${best.name}) … ${fmtNs(worst.medianNs)} (${worst.name})`,
    status: worst.medianNs <= goalNs ? 'met' : 'missed',
  };
}

/** n log n from the smallest to the largest size, with 25 % slack for noise. */
export function growthVerdict(g: GrowthResult): { ratio: number; nlogn: number; ok: boolean } {
  const a = g.points[0]!;
  const b = g.points[g.points.length - 1]!;
  const ratio = b.ms / a.ms;
  const nlogn = (b.n * Math.log(b.n)) / (a.n * Math.log(a.n));
  return { ratio, nlogn, ok: ratio <= nlogn * 1.25 };
}

export function evaluateTargets(results: Omit<Results, 'targets'>): TargetResult[] {
  const s = results.summary;
  const out: TargetResult[] = [
    ...ratioTarget(
      s,
      'enforce-both',
      'cpuPerRequestMs',
      1.05,
      false,
      "enforce with Node's flags: CPU/request",
    ),
    ...ratioTarget(
      s,
      'enforce-both',
      'requestsPerSecond',
      0.95,
      true,
      "enforce with Node's flags: requests/s",
    ),
    ...ratioTarget(
      s,
      'enforce-both',
      'p99Ms',
      1.05,
      false,
      "enforce with Node's flags: p99 latency",
    ),
    ...ratioTarget(s, 'learn', 'cpuPerRequestMs', 1.1, false, 'learn: CPU/request'),
    microTarget(
      results.micro,
      'decision',
      1000,
      'a cached decision (runtime host check: file read, connect, spawn)',
    ),
    microTarget(
      results.micro,
      'decision-attributed',
      1000,
      'a cached decision including attribution (the full check a wrapper makes)',
    ),
    microTarget(results.micro, 'sql-cached', 2000, 'a cached SQL check'),
    microTarget(results.micro, 'attribution-cached', 1000, 'package attribution, cached'),
    ...lightTargets(results),
  ];
  for (const g of results.growth.filter((x) => x.target === 'simplify')) {
    const last = g.points[g.points.length - 1]!;
    const at100k = g.points.find((p) => p.n === 100_000);
    out.push({
      id: `${g.name}-100k`,
      description: `${g.name} on 100k facts`,
      goal: '≤ 1 s',
      measured: at100k === undefined ? `not run (largest: ${last.n})` : fmtMs(at100k.ms),
      status: at100k === undefined ? 'not measured' : at100k.ms <= 1000 ? 'met' : 'missed',
    });
    const k = exponent(g);
    out.push({
      id: `${g.name}-growth`,
      description: `${g.name}: growth from ${g.points[0]!.n} to ${last.n} facts (fitted exponent k of t ∝ nᵏ)`,
      goal: 'k ≤ 1.15',
      measured: `k = ${k.toFixed(2)} (×${growthVerdict(g).ratio.toFixed(0)})`,
      status: k <= 1.15 ? 'met' : 'missed',
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting

export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '–';
  if (ns < 1000) return `${ns.toFixed(0)} ns`;
  if (ns < 1e6) return `${(ns / 1000).toFixed(2)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

function digits(v: number): string {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toFixed(3);
}

const span = (s: Summary) => `${digits(s.median)} (${digits(s.min)}–${digits(s.max)})`;
const ratioSpan = (s: Summary) =>
  `${s.median.toFixed(3)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

function targetRow(t: TargetResult): string[] {
  return [
    t.description,
    t.goal,
    t.measured,
    t.status === 'met'
      ? `**met**${t.withinNoise ? ' (within noise)' : ''}`
      : t.status === 'missed'
        ? `**missed**${t.withinNoise ? ' (within noise)' : ''}`
        : t.status,
  ];
}

export function markdown(results: Results): string {
  const e = results.environment;
  const out: string[] = [];
  out.push('# Benchmarks');
  out.push('');
  out.push(
    'What leash costs a service, measured by `npm run bench` (bench/run.ts). Every number below comes from one run; ratios compare each configuration with the baseline measured in the same round. Goals are goals, not test assertions.',
  );
  out.push('');
  out.push(`- **Date:** ${e.date}`);
  out.push(
    `- **Machine:** ${e.cpuModel}, ${e.cores} cores, ${e.memoryGb.toFixed(0)} GiB RAM, Linux ${e.kernel}; shared and noisy (other jobs run on it)`,
  );
  out.push(`- **Node.js:** ${e.node}`);
  out.push(
    `- **leash commit:** ${e.commit}${e.leash === undefined ? '' : `; the services run ${e.leash}`}`,
  );
  out.push(`- **Command:** \`${e.command}\`${e.quick ? ' (quick mode: indicative only)' : ''}`);
  out.push(`- **Run time:** ${(e.durationSeconds / 60).toFixed(1)} min`);
  out.push(
    `- **Pinning:** ${e.pinned ? 'service on CPU 0; load generator, partner API, PostgreSQL and the runner on CPU 1 (`taskset`)' : 'none (taskset missing or a single core)'}`,
  );
  out.push('');
  out.push(
    'Compare a later run with this one: `npm run bench -- --compare bench/results/<this run>.json`.',
  );
  out.push('');

  out.push('## Targets');
  out.push('');
  out.push(
    table(['target', 'goal', 'measured (median)', 'status'], results.targets.map(targetRow)),
  );
  out.push('');
  out.push(
    '"within noise": the ~95 % confidence interval of the median ratio (order statistics over the rounds) reaches across the goal, so this run cannot tell met from missed.',
  );
  out.push('');

  out.push('## The service under load');
  out.push('');
  const anyVariant = results.service.find((v) => v.skipped === undefined);
  if (anyVariant !== undefined) {
    out.push(
      `The example service (examples/service: Express 5, sessions, SQLite or PostgreSQL, uploads, templates, a partner API, a child process) driven by autocannon in its own process with ${anyVariant.connections} connections, replaying a mix of the held-out workload's legitimate requests (${anyVariant.mix.length} requests of three logged-in users: pages, notes, search, legacy SQL routes, files, downloads, uploads, weather through the partner API, link preview, host lookup by a child process, admin write). Each configuration is measured once per round (${anyVariant.rounds} rounds, order rotated each round) on a fixed number of requests after a short warm-up; all of them run side by side on the same data and database, each on its own ports, with the policy learned once from the learning workload (its ports changed to each configuration's own). The host lookup (\`GET /ping\`, 3 of the requests) starts a child process and takes about a third to half of the service's CPU in every configuration (a fork of a ~200 MB process); the rest is Express, sessions, SQL, files and the partner API.`,
    );
    out.push('');
    out.push(
      '- **CPU/request**: user + system CPU time (/proc/<pid>/stat, every thread) over the measurement, per response, of the processes the **processes** column names: for every configuration but `--isolate`, the one node process running the service (not the `leash` CLI that waits for it, not the short-lived child processes the service starts); for `--isolate`, the `leash` supervisor (front door, dispatcher, SQLite host or PostgreSQL proxy) plus all its worker processes, summed (the processes listed at the start and again at the end of each measurement, so a worker started meanwhile counts too). The primary overhead figure.',
    );
    out.push(
      '- **requests/s**, **p50**, **p99**: from the load generator (latency of each response, in ms).',
    );
    out.push(
      "- **peak RSS**: VmHWM of the service process, reset before each measurement; for `--isolate`, the sum of each measured process's own peak (an upper bound of the tree's simultaneous peak, counting shared pages such as the Node binary once per process).",
    );
    out.push(
      '- **PSS**: proportional set size (/proc/<pid>/smaps_rollup) at the end of the measurement, summed over the same processes: shared pages split between the processes that share them, so the sum counts them once.',
    );
    out.push(
      '- **leash CLI CPU**: CPU time of the `leash` process over one measurement: it starts the service and waits; under `--isolate` it is the supervisor, and its CPU is already part of CPU/request.',
    );
    out.push(
      "- **leash CLI peak RSS**: VmHWM of the `leash` process (the pid the bench started), never reset by the bench, read after each measurement. Where the launcher could be built, that process has become the launcher's waiter by then (`process.execve`, the same pid); execve starts a new memory map, so this is the waiter's peak, not the Node CLI's before it. The largest over the run is kept.",
    );
    out.push(
      '- Each cell: median over rounds (min–max). Ratios: per round, configuration ÷ baseline of the same round; median (min–max).',
    );
    out.push('');
  }
  for (const v of results.service) {
    const s = results.summary.find((x) => x.variant === v.variant)!;
    variantSection(out, v, s, v.variant === 'sqlite' ? 'SQLite' : 'PostgreSQL');
  }

  if (results.light !== undefined) out.push(lightSection(results));

  out.push('## Micro-benchmarks');
  out.push('');
  out.push(
    'tinybench, in a process of its own per file (bench/*.bench.ts), pinned to one core; fast operations are timed in batches and shown per call. Median of the samples, with the relative margin of error of the mean.',
  );
  out.push('');
  out.push(
    table(
      ['group', 'case', 'median / call', 'mean / call', '± rme'],
      results.micro.map((m) => [
        m.group,
        m.name,
        fmtNs(m.medianNs),
        fmtNs(m.meanNs),
        `${m.rme.toFixed(1)} %`,
      ]),
    ),
  );
  out.push('');
  for (const n of results.notes) out.push(`- ${n}`);
  if (results.notes.length > 0) out.push('');

  out.push('## simplify and merge as the policy grows');
  out.push('');
  if (results.growth.length > 0) {
    const sizes = results.growth[0]!.points.map((p) => p.n);
    out.push(
      table(
        [
          'operation',
          ...sizes.map((n) => `${n / 1000}k facts`),
          'time ×, smallest → largest',
          'n log n ×',
          'fitted exponent',
        ],
        results.growth.map((g) => {
          const v = growthVerdict(g);
          return [
            g.name,
            ...sizes.map((n) => {
              const p = g.points.find((x) => x.n === n);
              return p === undefined
                ? '–'
                : `${fmtMs(p.ms)}${p.output === undefined ? '' : ` → ${p.output}`}`;
            }),
            `×${v.ratio.toFixed(0)}`,
            `×${v.nlogn.toFixed(0)}`,
            exponent(g).toFixed(2),
          ];
        }),
      ),
    );
    out.push('');
    out.push(
      'Cells: median time (→ rules in the result). Facts: bench/lib/fixtures.ts; `spread` is a large service (20 routes, 3 packages, files in 50 directories, endpoints, command lines), `wide` is one route reading n files of one directory. Fitted exponent k of t ∝ nᵏ (1 is linear; n log n over this range is about 1.1).',
    );
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** Where BENCHMARKS.md's light-route section starts; a light-only run replaces just it. */
export const LIGHT_HEADING = '## Light route';

const LIGHT_TITLES: Record<string, string> = {
  'light-html': 'HTML: `GET /items/:id` (template file + one prepared query + `res.send`)',
  'light-json': 'JSON: `GET /api/items/:id` (one prepared query + `res.json`)',
};

/** BENCHMARKS.md's light-route section (issue 14), with its own targets and how it was run. */
export function lightSection(results: Results): string {
  const light = results.light ?? [];
  const e = results.environment;
  const out: string[] = [LIGHT_HEADING, ''];
  out.push(
    "A route that does as little as a real route does, so that what leash adds per request is not hidden behind heavy work (issue 14): bench/fixtures/light, Express 5; `GET /items/:id` reads one template file, runs one prepared node:sqlite query and sends HTML, `GET /api/items/:id` runs the same query and sends it with `res.json`. Beside plain node and Node's own flags (from `leash export node-flags` for the light service's policy) runs the in-process peer: **sandworm 1.3.2** (bench/fixtures/light/sandworm.cjs: `--require`d before the service, enforcing mode, every module allowed everything, so what it costs is its interception and its stack-based attribution of each call, never a refusal). sandworm wraps Node's fs, net, http client, child_process and similar APIs but not node:sqlite, so on the HTML route it intercepts the template read and on the JSON route nothing at all: it checks less than leash, which checks the SQL statement and its argument on both routes and the file read per route. The policy is learned once with `leash learn` from a short learning workload (both routes, items 1–12); every configuration must answer the held-out requests (items 13–24) before it is measured. The same machinery as the example service: the service pinned to one core, autocannon in its own process on the other, a fixed number of requests per measurement (items 1–100 in turn) after a warm-up, every configuration once per round in an order rotated each round. Columns as in the example service's tables above; the primary figure is CPU/request and its ratio to plain node, with the ~95 % CI.",
  );
  out.push('');
  out.push(
    `- **Run:** ${e.date}, leash ${e.commit}${e.leash === undefined ? '' : ` (${e.leash})`}, Node.js ${e.node}, ${e.cpuModel}, ${e.cores} cores, Linux ${e.kernel}${e.pinned ? ', pinned' : ', not pinned'}`,
  );
  out.push(`- **Reproduce:** \`${e.command}\`${e.quick ? ' (quick mode: indicative only)' : ''}`);
  out.push('');
  const targets = results.targets.filter(
    (t) => t.id.includes('light') || t.id.includes('sandworm'),
  );
  if (targets.length > 0) {
    out.push(
      table(['target (issue 14)', 'goal', 'measured (median)', 'status'], targets.map(targetRow)),
    );
    out.push('');
  }
  if (light.length === 0) {
    out.push('Not run.');
    out.push('');
  }
  for (const v of light) {
    const s = (results.lightSummary ?? []).find((x) => x.variant === v.variant);
    if (s === undefined) continue;
    variantSection(out, v, s, LIGHT_TITLES[v.variant] ?? v.variant);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Replaces the light-route section of a BENCHMARKS.md, or puts it where a full run puts it (before
 * the micro-benchmarks): the rest stays as it is. Only the generated part, above the hand-written
 * marker (bench/lib/hand-written.ts), is looked at and changed.
 */
export function withLightSection(existing: string, section: string): string {
  const { generated, handWritten } = splitAtMarker(existing);
  const replaced = withSection(generated, section);
  return handWritten === undefined ? replaced : joinAtMarker(replaced, handWritten);
}

function withSection(existing: string, section: string): string {
  const start = existing.indexOf(`\n${LIGHT_HEADING}\n`);
  if (start < 0) {
    const micro = existing.indexOf('\n## Micro-benchmarks\n');
    if (micro < 0) return `${existing.trimEnd()}\n\n${section}`;
    return `${existing.slice(0, micro + 1)}${section}\n${existing.slice(micro + 1)}`;
  }
  const next = existing.indexOf('\n## ', start + 1);
  return `${existing.slice(0, start + 1)}${section}${next < 0 ? '' : `\n${existing.slice(next + 1)}`}`;
}

/** One scenario's tables: values, ratios to the baseline, noise, held-out checks, command lines. */
function variantSection(out: string[], v: VariantResult, s: VariantSummary, title: string): void {
  out.push(`### ${title}`);
  out.push('');
  if (v.skipped !== undefined) {
    out.push(`Skipped: ${v.skipped}.`);
    out.push('');
    return;
  }
  out.push(
    `${v.amount} requests per measurement, ${v.connections} connections, ${v.rounds} rounds; policy of ${v.policyRules} rules; ${(v.seconds / 60).toFixed(1)} min.`,
  );
  out.push('');
  out.push(
    table(
      [
        'configuration',
        'CPU/request ms',
        'requests/s',
        'p50 ms',
        'p99 ms',
        'peak RSS MiB',
        'PSS MiB',
        'leash CLI CPU ms',
        'leash CLI peak RSS MiB',
        'processes',
      ],
      s.configs.map((c) => [
        c.label,
        ...METRICS.map(({ key }) => span(c.metrics[key].value)),
        c.pssMb === undefined ? '–' : span(c.pssMb),
        c.wrapperCpuMs === null ? '–' : digits(c.wrapperCpuMs),
        c.wrapperPeakRssMb === null ? '–' : digits(c.wrapperPeakRssMb),
        processesOf(c, v.configurations.find((x) => x.id === c.config)?.isolation?.workers),
      ]),
    ),
  );
  out.push('');
  out.push('Ratio to the baseline of the same round, median (min–max):');
  out.push('');
  out.push(
    table(
      [
        'configuration',
        'CPU/request',
        'requests/s',
        'p50',
        'p99',
        'peak RSS',
        'CPU/request 95 % CI',
      ],
      s.configs
        .filter((c) => c.config !== 'baseline')
        .map((c) => [
          c.label,
          ...METRICS.map(({ key }) => ratioSpan(c.metrics[key].ratio)),
          `${c.metrics.cpuPerRequestMs.ratioInterval.lo.toFixed(3)}–${c.metrics.cpuPerRequestMs.ratioInterval.hi.toFixed(3)}`,
        ]),
    ),
  );
  out.push('');
  const noise = s.baselineNoise;
  out.push(
    `Noise: the baseline's own rounds spread ±${pct(noise.cpuPerRequestMs)} (CPU/request), ±${pct(noise.requestsPerSecond)} (requests/s), ±${pct(noise.p99Ms)} (p99) around their median. The per-round ratios cancel much of it (machine load hits neighbouring measurements alike); the CI column is the uncertainty of the median CPU ratio.`,
  );
  const failed = v.configurations.filter((c) => c.error !== undefined || c.heldOutFailures > 0);
  const bad = s.configs.filter((c) => c.non2xx > 0 || c.errors > 0);
  out.push('');
  out.push(
    `Held-out workload before measuring: ${v.configurations.map((c) => `${c.id} ${c.heldOutRequests - c.heldOutFailures}/${c.heldOutRequests}`).join(', ')} requests passed.` +
      (bad.length === 0
        ? ' Every measured response was 2xx.'
        : ` Non-2xx or errors while measuring: ${bad.map((c) => `${c.config} ${c.non2xx} non-2xx, ${c.errors} errors`).join('; ')}.`),
  );
  for (const c of failed) if (c.error) out.push(`\n${c.id}: ${c.error}`);
  const moved = s.configs.filter((c) => c.processesLost > 0 || c.processesStarted > 0);
  if (moved.length > 0)
    out.push(
      `\nProcesses that ended or started during a measurement (their CPU is partly missing or counted from their start): ${moved.map((c) => `${c.config} ${c.processesLost} ended, ${c.processesStarted} started`).join('; ')}.`,
    );
  for (const c of v.configurations) {
    if (c.isolation === undefined) continue;
    out.push('');
    out.push(
      `${c.id}: ${c.isolation.groups} groups, ${c.isolation.workers} workers (${c.isolation.layers}), as the supervisor printed at start; config ${c.configFile}:`,
    );
    out.push('');
    for (const line of c.isolation.table) out.push(`- ${line}`);
  }
  out.push('');
  out.push('<details><summary>Command lines and request mix</summary>');
  out.push('');
  for (const c of v.configurations) out.push(`- ${c.id}: \`${c.command}\``);
  out.push('');
  out.push(`Mix: ${v.mix.map((m) => `\`${m}\``).join(', ')}`);
  out.push('');
  out.push('</details>');
  out.push('');
}

function exponent(g: GrowthResult): number {
  const pts = g.points.filter((p) => p.ms > 0);
  if (pts.length < 2) return Number.NaN;
  return growthExponent(pts.map((p) => ({ n: p.n, t: p.ms })));
}

/** `1` for the service process alone; `1 + 8` for the supervisor and its workers. */
function processesOf(c: ConfigSummary, workers: number | undefined): string {
  const n = c.processes ?? 1;
  if (n <= 1 && workers === undefined) return '1';
  return `1 + ${n - 1} (leash + workers${workers !== undefined && workers !== n - 1 ? `; ${workers} at start` : ''})`;
}

const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)} %` : '–');

// ---------------------------------------------------------------------------------------------
// Comparison of two runs

/** Lines comparing `current` with `previous`: each median, and current ÷ previous. */
export function compare(previous: Results, current: Results): string {
  const lines: string[] = [];
  lines.push(
    `comparing ${current.environment.date} (${current.environment.commit}) with ${previous.environment.date} (${previous.environment.commit})`,
  );
  lines.push(
    'ratio = current ÷ previous; for requests/s higher is better, for everything else lower',
  );
  const summaries = (r: Results) => [...r.summary, ...(r.lightSummary ?? [])];
  for (const cur of summaries(current)) {
    const prev = summaries(previous).find((s) => s.variant === cur.variant);
    if (prev === undefined || cur.skipped || prev.skipped) continue;
    lines.push('');
    lines.push(`service, ${cur.variant}:`);
    for (const c of cur.configs) {
      const p = prev.configs.find((x) => x.config === c.config);
      if (p === undefined) continue;
      const cells = METRICS.map(({ key, label }) => {
        const a = p.metrics[key].value.median;
        const b = c.metrics[key].value.median;
        const rel =
          c.config === 'baseline'
            ? ''
            : ` [vs baseline ${p.metrics[key].ratio.median.toFixed(3)} → ${c.metrics[key].ratio.median.toFixed(3)}]`;
        return `${label} ${digits(a)} → ${digits(b)} ×${(b / a).toFixed(3)}${rel}`;
      });
      lines.push(`  ${c.config.padEnd(16)} ${cells.join('; ')}`);
    }
  }
  const prevMicro = new Map(previous.micro.map((m) => [`${m.group} / ${m.name}`, m]));
  const microLines: string[] = [];
  for (const m of current.micro) {
    const p = prevMicro.get(`${m.group} / ${m.name}`);
    if (p === undefined) continue;
    microLines.push(
      `  ${`${m.group} / ${m.name}`.padEnd(80)} ${fmtNs(p.medianNs)} → ${fmtNs(m.medianNs)} ×${(m.medianNs / p.medianNs).toFixed(3)}`,
    );
  }
  if (microLines.length > 0) lines.push('', 'micro-benchmarks (median per call):', ...microLines);
  const growthLines: string[] = [];
  for (const g of current.growth) {
    const p = previous.growth.find((x) => x.name === g.name);
    if (p === undefined) continue;
    for (const point of g.points) {
      const q = p.points.find((x) => x.n === point.n);
      if (q !== undefined)
        growthLines.push(
          `  ${g.name.padEnd(20)} ${String(point.n).padStart(7)}  ${fmtMs(q.ms)} → ${fmtMs(point.ms)} ×${(point.ms / q.ms).toFixed(3)}`,
        );
    }
  }
  if (growthLines.length > 0) lines.push('', 'simplify / merge (median):', ...growthLines);
  const prevTargets = new Map(previous.targets.map((t) => [t.id, t]));
  lines.push('', 'targets:');
  for (const t of current.targets) {
    const p = prevTargets.get(t.id);
    lines.push(
      `  ${t.description}: ${p === undefined ? '–' : `${p.status} (${p.measured})`} → ${t.status} (${t.measured})`,
    );
  }
  return lines.join('\n');
}
