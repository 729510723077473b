/**
 * @module
 * The light-route benchmark (issue 14): a route that does as little as a real route does, so
 * that what leash adds per request is not hidden behind heavy work. The service is
 * bench/fixtures/light (Express 5): `GET /items/:id` reads one template file, runs one prepared
 * node:sqlite query and sends HTML (`light-html`); `GET /api/items/:id` runs the same query and
 * sends it with `res.json` (`light-json`).
 *
 * Measured in one run, side by side, with the same rounds and the same machinery as the example
 * service (bench/lib/rounds.ts): plain node, Node's `--permission` flags alone (as `leash export
 * node-flags` gives them for the light service's policy), sandworm 1.3.2 (an in-process
 * interposer, the peer: bench/fixtures/light/sandworm.cjs, every module allowed everything), and
 * every leash configuration (learn, report, enforce --layer=process, --layer=both, the default
 * layers, --isolate).
 *
 * How: the database is made first (bench/fixtures/light/seed.ts: the service only reads it), the
 * policy is learned once with `leash learn` from a short learning workload (both routes, items
 * 1–12); every configuration runs on a port of its own with that policy's port changed to
 * its own, all on the same read-only database; each must answer the held-out requests (items
 * 13–24, both routes) before it is measured; then each scenario (HTML, then JSON) is measured:
 * a fixed number of requests per measurement (items 1–100 in turn), every configuration once per
 * round, the order rotated each round.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchAndWait, type Started, stopGroup } from '../examples/service/start.ts';
import { ITEMS, seed } from './fixtures/light/seed.ts';
import * as configurations from './lib/configurations.ts';
import { LIGHT_DIR, lightEnv } from './lib/light.ts';
import { LoadGenerator } from './lib/load-generator.ts';
import { pin, pinTree } from './lib/proc.ts';
import * as rounds from './lib/rounds.ts';
import type { LoadRequest } from './load.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = dirname(HERE);
const SANDWORM_PRELOAD = join(LIGHT_DIR, 'sandworm.cjs');

export type LightVariant = 'light-html' | 'light-json';
export const LIGHT_VARIANTS: readonly LightVariant[] = ['light-html', 'light-json'];

/** The path of item `id` in each scenario. */
const ROUTE: Record<LightVariant, (id: number) => string> = {
  'light-html': (id) => `/items/${id}`,
  'light-json': (id) => `/api/items/${id}`,
};

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
const LEARNING_IDS = range(1, 12);
const HELD_OUT_IDS = range(13, 24);
const MIX_IDS = range(1, ITEMS);

/** The example service's configurations with the in-process peer after Node's flags. */
export const LIGHT_CONFIGURATIONS: readonly configurations.Configuration[] = [
  ...configurations.CONFIGURATIONS.slice(0, 2),
  {
    id: 'sandworm',
    label: 'sandworm 1.3.2, in-process interposer, everything allowed (peer)',
    run: { kind: 'plain', nodeOptions: ['--require', SANDWORM_PRELOAD] },
  },
  ...configurations.CONFIGURATIONS.slice(2),
];

export interface LightBenchOptions extends rounds.ScenarioOptions {
  readonly variants: readonly LightVariant[];
}

interface Running extends rounds.Measured {
  readonly config: configurations.Configuration;
  readonly started: Started;
}

/** Asks for each path once; the failures, as `GET path: status`. */
async function check(base: string, paths: readonly string[]): Promise<string[]> {
  const failures: string[] = [];
  for (const path of paths) {
    try {
      const res = await fetch(base + path);
      const text = await res.text();
      if (!res.ok || !text.includes('Item ')) failures.push(`GET ${path}: ${res.status}`);
    } catch (error) {
      failures.push(`GET ${path}: ${(error as Error).message}`);
    }
  }
  return failures;
}

const pathsOf = (ids: readonly number[]): string[] =>
  LIGHT_VARIANTS.flatMap((v) => ids.map((id) => ROUTE[v](id)));

export async function runLightBench(options: LightBenchOptions): Promise<rounds.VariantResult[]> {
  const { log } = options;
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const leashBin = join(options.leashRoot ?? REPO, 'bin', 'leash.js');
  if (options.pin) pin(process.pid, options.loadCpu);
  const results = options.variants.map((variant) => ({
    ...rounds.emptyResult(variant, options),
    mix: [`GET ${ROUTE[variant](1).replace(/1$/, ':id')} (items ${MIX_IDS[0]}–${MIX_IDS.at(-1)})`],
  }));

  const work = mkdtempSync(join(tmpdir(), 'leash-bench-light-'));
  const learned = join(work, 'learned', 'leash.policy.json');
  mkdirSync(dirname(learned), { recursive: true });
  const ports = await configurations.freePorts(LIGHT_CONFIGURATIONS.length);
  // The database in a directory of its own, beside (never around) the policy files.
  const dataDir = join(work, 'data');
  seed(dataDir);
  const envFor = (port: number) => lightEnv(dataDir, port);
  const server = [process.execPath, 'server.ts'];
  const running: Running[] = [];
  /** Every configuration that started, measured or not: each is stopped at the end. */
  const all: Running[] = [];
  const setups: rounds.ConfigurationSetup[] = [];
  let generator: LoadGenerator | undefined;
  try {
    // 1. Learn: the learning workload, once, on the first port.
    const learning = await launchAndWait(
      [process.execPath, leashBin, 'learn', '--policy', learned, '--', ...server],
      envFor(ports[0]!),
      90_000,
      LIGHT_DIR,
    );
    try {
      const failures = await check(learning.url, pathsOf(LEARNING_IDS));
      if (failures.length > 0) log(`light: learning: ${failures.length} failures: ${failures[0]}`);
    } finally {
      await stopGroup(learning.child);
    }
    const rules = configurations.countRules(learned);
    log(`light: learned ${rules} rules (${elapsed()})`);

    // 2. Start every configuration, each with its own copy of the policy.
    const starts = LIGHT_CONFIGURATIONS.map(async (config, i) => {
      const port = ports[i]!;
      const policyFile = join(work, config.id, 'leash.policy.json');
      mkdirSync(dirname(policyFile), { recursive: true });
      writeFileSync(
        policyFile,
        configurations.withPorts(readFileSync(learned, 'utf8'), [[ports[0]!, port]]),
      );
      const flags =
        config.run.kind === 'flags'
          ? await configurations.exportNodeFlags(leashBin, policyFile, LIGHT_DIR, port)
          : [];
      const { wrap, nodeOptions } = configurations.serverCommand(
        config,
        leashBin,
        policyFile,
        flags,
        false,
      );
      const node = [process.execPath, ...nodeOptions, 'server.ts'];
      const command = wrap === undefined ? node : wrap(node);
      const isolated = configurations.isIsolated(config);
      const child = await launchAndWait(
        command,
        envFor(port),
        isolated ? 150_000 : 90_000,
        LIGHT_DIR,
      );
      const pids = configurations.servicePidOf(child.child.pid!, wrap !== undefined, isolated);
      if (options.pin) pinTree(child.child.pid!, options.serviceCpu);
      return {
        config,
        child,
        pids,
        command: configurations.shorten(command, work),
        flags,
        isolated,
      };
    });
    const settled = await Promise.allSettled(starts);
    for (const [i, s] of settled.entries()) {
      const config = LIGHT_CONFIGURATIONS[i]!;
      const noConfig = 'none (bench/fixtures/light has no leash.config.json)';
      if (s.status === 'rejected') {
        const error = (s.reason as Error).message.slice(0, 2000);
        setups.push(rounds.setupOf(config, noConfig, { error }));
        log(`light/${config.id}: did not start: ${error}`);
        continue;
      }
      const { child, pids, command, flags, isolated } = s.value;
      if (config.run.kind === 'flags') for (const r of results) r.nodeFlags = flags;
      setups.push(rounds.setupOf(config, noConfig, { command, isolated }));
      const r: Running = {
        config,
        started: child,
        base: child.url,
        ...rounds.processesOf(pids, isolated),
        mix: [],
        stderr: () => child.output.stderr,
      };
      running.push(r);
      all.push(r);
    }
    log(`light: ${running.length} configurations started (${elapsed()})`);

    // 3. The held-out requests on each: a configuration that fails any is not measured.
    for (const r of [...running]) {
      const setup = setups.find((c) => c.id === r.config.id)!;
      const failures = await check(r.base, pathsOf(HELD_OUT_IDS));
      setup.heldOutRequests = HELD_OUT_IDS.length * LIGHT_VARIANTS.length;
      setup.heldOutFailures = failures.length;
      if (r.tree) {
        const isolation = rounds.isolationOf(r.started.output.stderr);
        if (isolation !== undefined) setup.isolation = isolation;
      }
      if (failures.length > 0) {
        setup.error = `held-out requests: ${failures.length} failed, e.g. ${failures.slice(0, 3).join('; ')}`;
        log(`light/${r.config.id}: ${setup.error}`);
        running.splice(running.indexOf(r), 1);
      }
    }
    log(`light: held-out requests checked on each (${elapsed()})`);

    // 4. Each scenario in turn, on the same running services.
    generator = new LoadGenerator(options);
    for (const result of results) {
      const t0 = Date.now();
      const variant = result.variant as LightVariant;
      result.policyRules = rules;
      result.configurations = structuredClone(setups);
      const mix: LoadRequest[] = MIX_IDS.map((id) => ({ method: 'GET', path: ROUTE[variant](id) }));
      const measured = running.map((r) => ({ ...r, mix }));
      await rounds.measureRounds(generator, measured, options, result, variant, elapsed);
      result.seconds = (Date.now() - t0) / 1000;
    }
  } finally {
    generator?.close();
    await Promise.all(all.map((r) => stopGroup(r.started.child)));
    // An isolated service's workers run in process groups of their own: the supervisor ends them
    // on SIGTERM; any it left (it was killed) are ended here, by the ids this run measured.
    for (const r of all) if (r.tree) for (const pid of r.seen) rounds.endLeftover(pid);
    rmSync(work, { recursive: true, force: true });
  }
  return results;
}
