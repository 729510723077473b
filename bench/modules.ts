/**
 * @module
 * What each part of leash costs the light route (issue 14), by hand:
 * `node --conditions=leash-source bench/modules.ts`. Not part of `npm run bench`, which measures
 * whole configurations; this one takes enforce (or learn) apart, so that BENCHMARKS.md can say
 * where a light request's overhead goes without a profiler's distortions (a sampling profile
 * charges a native call to the JavaScript frame around it, and slows the stack capture it
 * measures).
 *
 * The light service (bench/fixtures/light) runs with leash's agent loaded in process
 * (`--import` of leash's register, as `leash enforce --layer=process` starts it: no Node flags,
 * no kernel layer) on a policy learned first with `leash learn`, in these configurations, side
 * by side: plain node; leash loaded with every module off; each module alone in the mode
 * (`LEASH_MODE=off,runtime=enforce`, …); every module in the mode. The service is pinned to CPU
 * 0 and the load generator to CPU 1 where the machine allows; each round measures every
 * configuration once, in an order rotated each round, after a warm-up: `--requests` requests
 * (4 connections, items 1–100 in turn) and the service's CPU time (user + system) over them.
 *
 * Options:
 *   --route html|json       which route (default html: GET /items/:id)
 *   --mode enforce|learn    the mode of the modules that are on (default enforce)
 *   --rounds N              rounds (default 8)
 *   --requests N            requests per measurement (default 8000)
 *   --leash dist|src        leash as installed (dist/, built first: bench/lib/package-copy.ts;
 *                           the default) or the checkout's TypeScript sources
 *   --json                  one JSON document instead of the table
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchAndWait, type Started, stopGroup } from '../examples/service/start.ts';
import { ITEMS, seed } from './fixtures/light/seed.ts';
import { freePorts, withPorts } from './lib/configurations.ts';
import { LIGHT_DIR, learnLightPolicy, lightEnv } from './lib/light.ts';
import { packageCopy } from './lib/package-copy.ts';
import { canPin, cpuSeconds, cpuTime, pin, pinTree } from './lib/proc.ts';
import { runLoad } from './load.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);

const { values: args } = parseArgs({
  options: {
    route: { type: 'string', default: 'html' },
    mode: { type: 'string', default: 'enforce' },
    rounds: { type: 'string', default: '8' },
    requests: { type: 'string', default: '8000' },
    leash: { type: 'string', default: 'dist' },
    json: { type: 'boolean', default: false },
  },
});
if (args.mode !== 'enforce' && args.mode !== 'learn') throw new Error('--mode is enforce or learn');
if (args.route !== 'html' && args.route !== 'json') throw new Error('--route is html or json');
const mode = args.mode;
const route =
  args.route === 'json' ? (id: number) => `/api/items/${id}` : (id: number) => `/items/${id}`;
const rounds = Number(args.rounds);
const requests = Number(args.requests);

/** A configuration: its name and LEASH_MODE, or none for plain node. */
interface Config {
  readonly name: string;
  readonly leashMode: string | undefined;
}

const CONFIGS: readonly Config[] = [
  { name: 'plain node', leashMode: undefined },
  { name: 'leash loaded, every module off', leashMode: 'off' },
  { name: `runtime alone (${mode})`, leashMode: `off,runtime=${mode}` },
  { name: `sql alone (${mode})`, leashMode: `off,sql=${mode}` },
  { name: `csp alone (${mode})`, leashMode: `off,csp=${mode}` },
  { name: `every module (${mode})`, leashMode: mode },
];

/** leash's register module: the package-shaped copy's dist/ or the checkout's sources. */
function registerPath(): string {
  if (args.leash === 'src') return join(REPO, 'src', 'register.ts');
  if (args.leash !== 'dist') throw new Error('--leash is src or dist');
  return join(packageCopy(REPO), 'dist', 'register.js');
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'leash-modules-'));
  const register = registerPath();
  const bin = join(REPO, 'bin', 'leash.js');
  const pinned = canPin();
  if (pinned) pin(process.pid, '1');
  const dataDir = join(work, 'data');
  seed(dataDir);
  const [learnPort, ...ports] = await freePorts(1 + CONFIGS.length);
  const learned = join(work, 'learned', 'leash.policy.json');
  mkdirSync(dirname(learned), { recursive: true });
  const mix = Array.from({ length: ITEMS }, (_, i) => ({ method: 'GET', path: route(i + 1) }));
  const cpu: number[][] = CONFIGS.map(() => []);
  const started: Started[] = [];
  try {
    await learnLightPolicy(bin, learned, lightEnv(dataDir, learnPort!));
    for (const [i, config] of CONFIGS.entries()) {
      const port = ports[i]!;
      const env = lightEnv(dataDir, port);
      if (config.leashMode !== undefined) {
        const policy = join(work, `config-${i}`, 'leash.policy.json');
        mkdirSync(dirname(policy), { recursive: true });
        writeFileSync(policy, withPorts(readFileSync(learned, 'utf8'), [[learnPort!, port]]));
        Object.assign(env, {
          NODE_OPTIONS: `--import=${register}`,
          LEASH_MODE: config.leashMode,
          LEASH_POLICY: policy,
        });
      }
      const service = await launchAndWait([process.execPath, 'server.ts'], env, 90_000, LIGHT_DIR);
      started.push(service);
      if (pinned) pinTree(service.child.pid!, '0');
    }
    const load = (at: number, amount: number) =>
      runLoad({ url: started[at]!.url, connections: 4, amount, requests: mix });
    for (let at = 0; at < CONFIGS.length; at++) {
      const warm = await load(at, 3000);
      if (warm.non2xx > 0 || warm.errors > 0)
        throw new Error(`${CONFIGS[at]!.name}: ${warm.non2xx} non-2xx, ${warm.errors} errors`);
    }
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < CONFIGS.length; k++) {
        const at = (k + round) % CONFIGS.length;
        await load(at, 1000);
        const pid = started[at]!.child.pid!;
        const before = cpuSeconds(cpuTime(pid));
        const result = await load(at, requests);
        const used = cpuSeconds(cpuTime(pid)) - before;
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(
            `${CONFIGS[at]!.name}: ${result.non2xx} non-2xx, ${result.errors} errors`,
          );
        cpu[at]!.push((used * 1e6) / result.responses);
      }
      process.stderr.write(`round ${round + 1}/${rounds}\n`);
    }
  } finally {
    await Promise.all(started.map((s) => stopGroup(s.child)));
    rmSync(work, { recursive: true, force: true });
  }
  const base = median(cpu[0]!);
  const rows = CONFIGS.map((config, i) => ({
    configuration: config.name,
    leashMode: config.leashMode ?? null,
    microsecondsPerRequest: median(cpu[i]!),
    ratio: median(cpu[i]!) / base,
    rounds: cpu[i]!,
  }));
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ args, pinned, rows }, null, 2)}\n`);
    return;
  }
  const lines = [
    '| configuration | LEASH_MODE | CPU µs/request (median) | × plain | + µs | rounds (µs) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.configuration} | ${r.leashMode === null ? '–' : `\`${r.leashMode}\``} | ${r.microsecondsPerRequest.toFixed(1)} | ${r.ratio.toFixed(3)} | ${(r.microsecondsPerRequest - base).toFixed(1)} | ${r.rounds.map((x) => x.toFixed(0)).join(' ')} |`,
    ),
  ];
  process.stdout.write(
    `light route (${args.route}), ${mode}, in process (no Node flags, no kernel layer), leash from ${args.leash}; ` +
      `${rounds} rounds of ${requests} requests, 4 connections${pinned ? ', service on CPU 0, load on CPU 1' : ', not pinned'}\n\n${lines.join('\n')}\n`,
  );
}

await main();
