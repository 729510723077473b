/**
 * @module
 * Memory of the light service (issue 14), by hand: `node --conditions=leash-source bench/memory.ts`.
 * Not part of `npm run bench`; a quicker look at one thing: the service's resident memory at rest
 * and after a burst of requests, per configuration, with V8's heap spaces beside it.
 *
 * The light service (bench/fixtures/light) starts plain and under leash (learn, report, enforce
 * --layer=process) on a policy learned first with `leash learn`, exactly as bench/light.bench.ts
 * does. Each configuration runs on its own, one after another (no neighbour shares the machine
 * with it): started, left 1 s, measured at rest (VmRSS, and the heap through
 * bench/lib/memory-probe.cjs, loaded with --require, which answers SIGUSR2), then
 * `--requests` requests from autocannon (10 connections, items 1–100 in turn, on 127.0.0.1),
 * then measured again: VmRSS, VmHWM (the peak since the process started) and the heap.
 *
 * Options:
 *   --route html|json       which route (default html: GET /items/:id)
 *   --requests N            requests after the rest measurement (default 20000)
 *   --configs a,b,…         baseline, learn, report, enforce (default all four)
 *   --leash dist|src        run leash as installed (dist/, built first: bench/lib/package-copy.ts;
 *                           the default) or from the checkout's TypeScript sources
 *   --leash-root DIR        another checkout's leash (its node_modules linked or installed), e.g.
 *                           an older commit's `git archive` for a before/after
 *   --node-option X         a Node option for the service in every configuration (repeatable), e.g.
 *                           --node-option=--max-semi-space-size=1
 *                           (--node-option=--expose-gc adds the heap live after a full collection)
 *   --repeat N              each configuration N times, medians shown (default 1)
 *   --json                  one JSON document instead of the table
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchAndWait, type Started, stopGroup } from '../examples/service/start.ts';
import { ITEMS, seed } from './fixtures/light/seed.ts';
import { freePorts, servicePidOf, withPorts } from './lib/configurations.ts';
import { LIGHT_DIR, learnLightPolicy, lightEnv } from './lib/light.ts';
import { packageCopy } from './lib/package-copy.ts';
import { cpuSeconds, cpuTime, currentRss, peakRss } from './lib/proc.ts';
import { runLoad } from './load.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);
const PROBE = join(HERE, 'lib', 'memory-probe.cjs');
const MiB = 1024 * 1024;

type Config = 'baseline' | 'learn' | 'report' | 'enforce';
const CONFIGS: readonly Config[] = ['baseline', 'learn', 'report', 'enforce'];

interface Probe {
  usage: NodeJS.MemoryUsage;
  spaces: Record<string, { size: number; used: number }>;
  /** heapUsed after a full collection (with --node-option=--expose-gc). */
  live?: number;
}

interface Sample {
  rss: number;
  hwm: number;
  probe: Probe | undefined;
}

interface Run {
  config: Config;
  rest: Sample;
  loaded: Sample;
  requestsPerSecond: number;
  /** The service's CPU time (user + system) per request of the burst, ms. */
  cpuPerRequest: number;
  non2xx: number;
}

const { values: args } = parseArgs({
  options: {
    route: { type: 'string', default: 'html' },
    requests: { type: 'string', default: '20000' },
    configs: { type: 'string', default: CONFIGS.join(',') },
    leash: { type: 'string', default: 'dist' },
    'leash-root': { type: 'string' },
    'node-option': { type: 'string', multiple: true, default: [] },
    repeat: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const route =
  args.route === 'json' ? (id: number) => `/api/items/${id}` : (id: number) => `/items/${id}`;
const requests = Number(args.requests);
const repeat = Number(args.repeat);
const configs = args.configs.split(',').map((c) => c.trim()) as Config[];
for (const c of configs) if (!CONFIGS.includes(c)) throw new Error(`unknown configuration ${c}`);
const nodeOptions = args['node-option'];

/** The leash CLI: the checkout's (TypeScript) or a package-shaped copy with dist/ only. */
function leashBin(): string {
  const root = args['leash-root'] ?? REPO;
  if (args.leash === 'src') return join(root, 'bin', 'leash.js');
  if (args.leash !== 'dist') throw new Error('--leash is src or dist');
  return join(packageCopy(root), 'bin', 'leash.js');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** VmRSS, VmHWM and the probe's answer to SIGUSR2. */
async function sample(pid: number, started: Started): Promise<Sample> {
  const before = started.output.stderr.length;
  process.kill(pid, 'SIGUSR2');
  let probe: Probe | undefined;
  for (let i = 0; i < 50 && probe === undefined; i++) {
    await sleep(20);
    const line = /memory-probe (\{.*\})\n/.exec(started.output.stderr.slice(before))?.[1];
    if (line !== undefined) probe = JSON.parse(line) as Probe;
  }
  return { rss: currentRss(pid), hwm: peakRss(pid), probe };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'leash-memory-'));
  const bin = leashBin();
  const dataDir = join(work, 'data');
  seed(dataDir);
  const envFor = (port: number) => lightEnv(dataDir, port);
  const [learnPort, ...ports] = await freePorts(1 + configs.length * repeat);
  const learned = join(work, 'learned', 'leash.policy.json');
  mkdirSync(dirname(learned), { recursive: true });
  const runs: Run[] = [];
  try {
    await learnLightPolicy(bin, learned, envFor(learnPort!));
    let next = 0;
    for (let r = 0; r < repeat; r++) {
      for (const config of configs) {
        const port = ports[next++]!;
        const policy = join(work, `${config}-${r}`, 'leash.policy.json');
        mkdirSync(dirname(policy), { recursive: true });
        writeFileSync(policy, withPorts(readFileSync(learned, 'utf8'), [[learnPort!, port]]));
        const node = [process.execPath, '--require', PROBE, ...nodeOptions, 'server.ts'];
        const mode = config === 'baseline' ? undefined : config;
        const command =
          mode === undefined
            ? node
            : [
                process.execPath,
                bin,
                mode,
                ...(mode === 'enforce' ? ['--layer=process'] : []),
                '--policy',
                policy,
                '--',
                ...node,
              ];
        const started = await launchAndWait(command, envFor(port), 90_000, LIGHT_DIR);
        try {
          const { service } = servicePidOf(started.child.pid!, mode !== undefined, false);
          await sleep(1000);
          const rest = await sample(service, started);
          const cpuBefore = cpuSeconds(cpuTime(service));
          const load = await runLoad({
            url: started.url,
            connections: 10,
            amount: requests,
            requests: Array.from({ length: ITEMS }, (_, i) => ({
              method: 'GET',
              path: route(i + 1),
            })),
          });
          const cpu = cpuSeconds(cpuTime(service)) - cpuBefore;
          await sleep(200);
          const loaded = await sample(service, started);
          runs.push({
            config,
            rest,
            loaded,
            requestsPerSecond: load.requestsPerSecond,
            cpuPerRequest: (cpu * 1000) / load.responses,
            non2xx: load.non2xx,
          });
          if (!args.json)
            process.stderr.write(
              `${config}: rest ${(rest.rss / MiB).toFixed(1)} MiB, after ${requests} ${(loaded.rss / MiB).toFixed(1)} MiB, peak ${(loaded.hwm / MiB).toFixed(1)} MiB${load.non2xx > 0 ? `, ${load.non2xx} non-2xx` : ''}\n`,
            );
        } finally {
          await stopGroup(started.child);
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ args, runs }, null, 2)}\n`);
    return;
  }
  print(runs);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function print(runs: readonly Run[]): void {
  const mib = (n: number | undefined) => (n === undefined ? '–' : (n / MiB).toFixed(1));
  const head = [
    'configuration',
    'RSS at rest',
    'heap used at rest',
    `RSS after ${requests}`,
    'peak RSS',
    'peak ×',
    'heap total after',
    'new space after',
    'old space after (used)',
    'live heap after',
    'code after',
    'external after',
    'CPU ms/req',
    'req/s',
  ];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  const base = median(runs.filter((r) => r.config === 'baseline').map((r) => r.loaded.hwm));
  for (const config of configs) {
    const rs = runs.filter((r) => r.config === config);
    const m = (f: (r: Run) => number | undefined) => {
      const xs = rs.map(f).filter((x): x is number => x !== undefined);
      return xs.length === 0 ? undefined : median(xs);
    };
    const peak = m((r) => r.loaded.hwm)!;
    lines.push(
      `| ${[
        config,
        mib(m((r) => r.rest.rss)),
        mib(m((r) => r.rest.probe?.usage.heapUsed)),
        mib(m((r) => r.loaded.rss)),
        mib(peak),
        Number.isNaN(base) ? '–' : (peak / base).toFixed(2),
        mib(m((r) => r.loaded.probe?.usage.heapTotal)),
        mib(m((r) => r.loaded.probe?.spaces.new_space?.size)),
        `${mib(m((r) => r.loaded.probe?.spaces.old_space?.size))} (${mib(m((r) => r.loaded.probe?.spaces.old_space?.used))})`,
        mib(m((r) => r.loaded.probe?.live)),
        mib(m((r) => r.loaded.probe?.spaces.code_space?.size)),
        mib(m((r) => r.loaded.probe?.usage.external)),
        m((r) => r.cpuPerRequest)?.toFixed(3) ?? '–',
        m((r) => r.requestsPerSecond)?.toFixed(0) ?? '–',
      ].join(' | ')} |`,
    );
  }
  process.stdout.write(
    `light route (${args.route}), ${requests} requests, 10 connections, leash from ${args.leash}` +
      `${nodeOptions.length > 0 ? `, node ${nodeOptions.join(' ')}` : ''}, ${repeat} run(s) each (MiB, medians)\n\n${lines.join('\n')}\n`,
  );
}

await main();
