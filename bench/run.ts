/**
 * @module
 * `npm run bench`: the micro-benchmarks (each bench/*.bench.ts in a process of its own, pinned
 * to the service core), then the example service under load in eight configurations
 * (bench/service.bench.ts, `leash enforce --isolate` the eighth), SQLite then PostgreSQL, then
 * the light route of issue 14 beside its peers (bench/light.bench.ts: plain node, Node's flags,
 * sandworm, every leash configuration; HTML then JSON). Writes the results as JSON
 * (bench/results/<date>.json) and the tables to BENCHMARKS.md. The generated part of BENCHMARKS.md
 * ends at the line `<!-- hand-written below: npm run bench keeps what follows -->`
 * (bench/lib/hand-written.ts): a run rewrites what is above it and keeps the line and everything
 * below it, the sections written by hand. A file without that line is rewritten whole, with a
 * warning. The report names the commit (and uncommitted changes) checked out when the run starts,
 * the tree it builds and measures.
 *
 *   npm run bench                        full run (about 20–35 minutes on 2 cores)
 *   npm run bench -- --quick             indicative run in a few minutes (SQLite only, 2
 *                                        rounds, short samples, a short light run; writes
 *                                        bench/results/quick-*.json and .md, leaves
 *                                        BENCHMARKS.md alone)
 *   npm run bench -- --only light        the light route alone (6 rounds of 20,000 requests);
 *                                        replaces only BENCHMARKS.md's "Light route" section
 *   npm run bench -- --compare OLD.json  run, then print current ÷ previous for every figure
 *   npm run bench -- --results NEW.json --compare OLD.json
 *                                        compare two result files without running anything
 *
 * Other options: --rounds N, --seconds S (per measurement), --connections N,
 * --variants sqlite,postgres, --only micro|service|light, --light-requests N (per
 * light measurement), --no-pin, --markdown FILE, --json FILE,
 * --leash-root DIR (run another checkout's CLI), --source (run the checkout's TypeScript
 * sources; by default the services run leash as installed: dist/, built first, in a
 * package-shaped copy, bench/lib/package-copy.ts). LEASH_BENCH_OWN_ISOLATE_CONFIG=1 in the
 * environment runs enforce-isolate with a config file of the bench's own (and a policy learned
 * with it) even when the example's config would do.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { release, totalmem } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HAND_WRITTEN_MARKER, withHandWritten } from './lib/hand-written.ts';
import type { BenchFileOutput, GrowthResult, MicroResult } from './lib/micro.ts';
import { packageCopy } from './lib/package-copy.ts';
import { canPin, cpuCount, cpuModel } from './lib/proc.ts';
import { LIGHT_VARIANTS, runLightBench } from './light.bench.ts';
import {
  compare,
  type Environment,
  evaluateTargets,
  lightSection,
  markdown,
  type Results,
  summarizeVariant,
  withLightSection,
} from './report.ts';
import { runServiceBench, type VariantName, type VariantResult } from './service.bench.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);
const MICRO_FILES = [
  'decision.bench.ts',
  'sql.bench.ts',
  'attribution.bench.ts',
  'policy-ops.bench.ts',
  'learn-scale.bench.ts',
];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    connections: { type: 'string' },
    variants: { type: 'string' },
    only: { type: 'string' },
    compare: { type: 'string' },
    results: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    markdown: { type: 'string' },
    json: { type: 'string' },
    'leash-root': { type: 'string' },
    source: { type: 'boolean', default: false },
    'light-requests': { type: 'string' },
  },
  allowPositionals: false,
});

const log = (line: string) => process.stdout.write(`${line}\n`);

if (args.results !== undefined) {
  // Compare two result files; run nothing.
  if (args.compare === undefined) throw new Error('--results needs --compare OLD.json');
  const current = JSON.parse(readFileSync(args.results, 'utf8')) as Results;
  const previous = JSON.parse(readFileSync(args.compare, 'utf8')) as Results;
  log(compare(previous, current));
  process.exit(0);
}

const quick = args.quick;
const number = (value: string | undefined, fallback: number) => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${value}`);
  return n;
};
const variants = (args.variants ?? (quick ? 'sqlite' : 'sqlite,postgres')).split(
  ',',
) as VariantName[];
for (const v of variants)
  if (v !== 'sqlite' && v !== 'postgres') throw new Error(`unknown variant ${v}`);
const pinning = !args['no-pin'] && canPin();
const serviceCpu = '0';
const loadCpu = '1';
const started = Date.now();
// Before anything is pinned (the affinity mask limits what availableParallelism reports).
const cores = cpuCount();

function git(...command: string[]): string {
  try {
    return execFileSync('git', command, {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return '';
  }
}

// The tree this run builds (dist/) and measures, read before anything is built or run: a commit
// made or merged during the run must not be named. LEASH_BENCH_COMMIT names the commit when the
// run is made from an exported copy (no .git).
const commit = process.env.LEASH_BENCH_COMMIT ?? git('rev-parse', '--short', 'HEAD');
const dirty =
  process.env.LEASH_BENCH_COMMIT === undefined &&
  git('status', '--porcelain', '--untracked-files=no') !== '';

/** Runs one bench file in its own process (pinned to the service core) and parses its output. */
function runBenchFile(file: string): Promise<BenchFileOutput> {
  const node = [
    process.execPath,
    '--conditions=leash-source',
    join(HERE, file),
    ...(quick ? ['--quick'] : []),
  ];
  const command = pinning ? ['taskset', '-c', serviceCpu, ...node] : node;
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: REPO,
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      process.stderr.write(c);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`${file}: exit ${code}\n${err.slice(-2000)}`));
      else {
        try {
          resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as BenchFileOutput);
        } catch {
          reject(new Error(`${file}: no result\n${out.slice(-1000)}`));
        }
      }
    });
  });
}

const micro: MicroResult[] = [];
const growth: GrowthResult[] = [];
const notes: string[] = [];
log(
  `leash benchmarks${quick ? ' (quick)' : ''}: Node ${process.version}, ${cores} cores (${cpuModel()}), pinning ${pinning ? 'on' : 'off'}`,
);

if (args.only === undefined || args.only === 'micro') {
  for (const file of MICRO_FILES) {
    const t0 = Date.now();
    try {
      const output = await runBenchFile(file);
      micro.push(...output.micro);
      growth.push(...output.growth);
      notes.push(...output.notes);
      for (const n of output.notes) log(`  ${n}`);
      log(
        `${file}: ${output.micro.length} cases, ${output.growth.length} growth series (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
      );
    } catch (error) {
      const message = `${file} failed: ${(error as Error).message.split('\n')[0]}`;
      notes.push(message);
      log(message);
    }
  }
}

/**
 * Which leash the services run: another checkout's CLI (--leash-root), this checkout's sources
 * (--source), or, by default, this checkout as a user installs it (dist/, no TypeScript).
 */
const leashRoot =
  args['leash-root'] ?? (args.source || args.only === 'micro' ? undefined : packageCopy(REPO));
const leashRun =
  args['leash-root'] !== undefined
    ? `the CLI of ${args['leash-root']}`
    : leashRoot === undefined
      ? "the checkout's TypeScript sources"
      : 'dist/, as installed (built for this run)';
if (args.only !== 'micro') log(`services run leash from ${leashRun}`);

/** What the service and light-route scenarios share: warm-ups, pinning, which leash. */
const scenario = {
  connections: number(args.connections, 10),
  warmupSeconds: quick ? 0.5 : 3,
  rewarmSeconds: quick ? 0.1 : 0.3,
  pin: pinning,
  serviceCpu,
  loadCpu,
  ...(leashRoot === undefined ? {} : { leashRoot }),
  log: (line: string) => log(`  ${line}`),
};

let service: VariantResult[] = [];
if (args.only === undefined || args.only === 'service') {
  service = await runServiceBench({
    ...scenario,
    variants,
    rounds: number(args.rounds, quick ? 2 : 16),
    seconds: number(args.seconds, quick ? 0.6 : 2),
  });
}

let light: VariantResult[] = [];
if (args.only === undefined || args.only === 'light') {
  // Issue 14's light route: a fixed 20,000 requests per measurement, six rounds.
  light = await runLightBench({
    ...scenario,
    variants: LIGHT_VARIANTS,
    rounds: number(args.rounds, quick ? 2 : 6),
    amount: number(args['light-requests'], quick ? 2000 : 20_000),
    seconds: 0,
  });
}

const argv = process.argv.slice(2);
const environment: Environment = {
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  node: process.version,
  cpuModel: cpuModel(),
  cores,
  memoryGb: totalmem() / 2 ** 30,
  kernel: release(),
  commit: `${commit}${dirty ? ' + uncommitted changes' : ''}`,
  command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
  quick,
  pinned: pinning,
  leash: leashRun,
  durationSeconds: (Date.now() - started) / 1000,
};
const summary = service.map(summarizeVariant);
const lightSummary = light.map(summarizeVariant);
const partial = {
  version: 1 as const,
  environment,
  micro,
  growth,
  notes,
  service,
  summary,
  ...(light.length === 0 ? {} : { light, lightSummary }),
};
const results: Results = { ...partial, targets: evaluateTargets(partial) };

const stamp = environment.date.replace(/[:]/g, '').replace(/-/g, '');
const jsonFile =
  args.json ?? join(REPO, 'bench', 'results', `${quick ? 'quick-' : ''}${stamp}.json`);
const markdownFile =
  args.markdown ??
  (quick ? join(REPO, 'bench', 'results', `quick-${stamp}.md`) : join(REPO, 'BENCHMARKS.md'));
mkdirSync(dirname(jsonFile), { recursive: true });
// Results are committed: name the checkout `<repo>`, never this machine's path; a worktree whose
// node_modules links to another checkout's names that one `<repo>` too (its paths are in policies).
const modulesCheckout = (() => {
  try {
    return dirname(realpathSync(join(REPO, 'node_modules')));
  } catch {
    return REPO;
  }
})();
const withoutCheckout = (text: string): string =>
  text.replaceAll(REPO, '<repo>').replaceAll(`${modulesCheckout}/`, '<repo>/');
writeFileSync(jsonFile, withoutCheckout(`${JSON.stringify(results, null, 2)}\n`));
try {
  // Keep the results file in the repository's format (biome), so lint stays clean.
  execFileSync(join(REPO, 'node_modules', '.bin', 'biome'), ['format', '--write', jsonFile], {
    stdio: 'ignore',
    cwd: REPO,
  });
} catch {
  // biome missing: the JSON is still valid.
}
// A light-only run into BENCHMARKS.md replaces its light-route section and leaves the rest; any
// other run rewrites the generated part and keeps what follows the hand-written marker.
const lightOnly = args.only === 'light' && !quick && args.markdown === undefined;
let report: string;
if (lightOnly) report = withLightSection(readFileSync(markdownFile, 'utf8'), lightSection(results));
else {
  const existing = existsSync(markdownFile) ? readFileSync(markdownFile, 'utf8') : undefined;
  const merged = withHandWritten(markdown(results), existing);
  if (merged.lost)
    log(
      `warning: ${relative(process.cwd(), markdownFile)} had no line "${HAND_WRITTEN_MARKER}", so it was rewritten whole: anything written by hand after its generated part is gone (git still has it); the line now ends the generated part`,
    );
  report = merged.text;
}
writeFileSync(markdownFile, withoutCheckout(report));

log('');
for (const t of results.targets) {
  log(
    `${t.status === 'met' ? 'met    ' : t.status === 'missed' ? 'MISSED ' : 'n/a    '} ${t.description}: ${t.measured} (goal ${t.goal})${t.withinNoise ? ' [within noise]' : ''}`,
  );
}
log('');
log(
  `results: ${relative(process.cwd(), jsonFile)}; tables: ${relative(process.cwd(), markdownFile)}; ${(environment.durationSeconds / 60).toFixed(1)} min`,
);
if (args.compare !== undefined) {
  const previous = JSON.parse(readFileSync(args.compare, 'utf8')) as Results;
  log('');
  log(compare(previous, results));
}
