/**
 * @module
 * The measuring part of a service benchmark, shared by its scenarios: what one measurement
 * records, what a scenario's result holds, and the rounds: calibrate on the baseline, warm every
 * configuration up, then measure each once per round in an order rotated from round to round, so
 * that machine noise hits all of them alike.
 */
import type { LoadRequest } from '../load.ts';
import type { LoadGenerator } from './load-generator.ts';
import { childrenOf, commandOf, cpuSeconds, cpuTime, peakRss, pss, resetPeakRss } from './proc.ts';

export interface Measurement {
  round: number;
  /** Position in the round (0 = measured first). */
  slot: number;
  config: string;
  requests: number;
  non2xx: number;
  errors: number;
  seconds: number;
  /**
   * Service CPU time (user + sys) per request, milliseconds: of the node process running
   * server.ts, or for an isolated service of the leash supervisor and all its workers together.
   */
  cpuPerRequestMs: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Peak RSS (VmHWM) of the service process, or the sum of each measured process's peak. */
  peakRssMb: number;
  /** PSS at the end of the measurement, summed over the measured processes (NaN: unreadable). */
  pssMb: number;
  /**
   * CPU time of the `leash` CLI process over the measurement, milliseconds (null: none). It waits
   * for the service, except under --isolate, where it is the supervisor and its CPU is part of
   * the service's.
   */
  wrapperCpuMs: number | null;
  /**
   * Peak RSS (VmHWM, never reset by the bench) of the `leash` CLI process, MiB (null: none;
   * absent in results from before it was measured). By the time the service listens, that pid
   * is the launcher's waiter (src/supervisor/waiter.ts) where it could be built: execve gives it
   * a new memory map whose VmHWM starts afresh, so the Node CLI's peak before it does not count.
   */
  wrapperPeakRssMb?: number | null;
  /** Service CPU over the measurement, milliseconds. */
  serviceCpuMs: number;
  /** Processes whose CPU and memory are summed (1: the service process alone). */
  processes: number;
  /** Measured processes that ended during the measurement (their last CPU is lost: should be 0). */
  processesLost: number;
  /** Processes that started during the measurement (a worker restarted: should be 0). */
  processesStarted: number;
}

export interface ConfigurationSetup {
  id: string;
  label: string;
  /** The server's command line as started (paths shortened). */
  command: string;
  heldOutRequests: number;
  heldOutFailures: number;
  /** Which processes the CPU and memory figures cover. */
  measures: string;
  /** The config file the service ran with (relative to the repository or $WORK). */
  configFile: string;
  /** Under --isolate: what the supervisor printed at start. */
  isolation?: {
    groups: number;
    workers: number;
    layers: string;
    /** `g1: GET /, GET /clock — 4 grants`, one per group. */
    table: string[];
  };
  error?: string;
}

/** One scenario's run: how it was set up and every measurement. */
export interface VariantResult {
  /** `sqlite`, `postgres` (the example service), `light-html`, `light-json` (the light route). */
  variant: string;
  skipped?: string;
  /** Requests per measurement. */
  amount: number;
  connections: number;
  rounds: number;
  mix: string[];
  policyRules: number;
  nodeFlags: string[];
  configurations: ConfigurationSetup[];
  measurements: Measurement[];
  /** Whether peak RSS could be reset before each measurement (else it is the lifetime peak). */
  rssReset: boolean;
  pinned: boolean;
  seconds: number;
}

/** A configuration running and ready to be measured. */
export interface Measured {
  readonly config: { readonly id: string };
  readonly base: string;
  /** The node process that runs server.ts (under --isolate: the leash supervisor). */
  readonly servicePid: number;
  /** The `leash` CLI process wrapping it, when there is one. */
  readonly wrapperPid: number | undefined;
  /** Whether the service is a tree (--isolate): the leash supervisor and its worker processes. */
  readonly tree: boolean;
  /** Every process counted so far (to make sure none outlives the run). */
  readonly seen: Set<number>;
  readonly mix: readonly LoadRequest[];
  /** What the service printed on stderr so far (to tell why it ended). */
  readonly stderr: () => string;
}

export interface RoundsOptions {
  readonly rounds: number;
  readonly connections: number;
  /**
   * Requests per measurement; unset: sized from the baseline's rate to take about `seconds`.
   */
  readonly amount?: number;
  readonly seconds: number;
  /** Warm-up before the rounds, per configuration, seconds of baseline traffic. */
  readonly warmupSeconds: number;
  /** Warm-up right before each measurement (not measured), seconds of baseline traffic. */
  readonly rewarmSeconds: number;
  readonly log: (line: string) => void;
}

/** A scenario's result before anything is measured. */
export function emptyResult(variant: string, options: ScenarioOptions): VariantResult {
  return {
    variant,
    amount: 0,
    connections: options.connections,
    rounds: options.rounds,
    mix: [],
    policyRules: 0,
    nodeFlags: [],
    configurations: [],
    measurements: [],
    rssReset: true,
    pinned: options.pin,
    seconds: 0,
  };
}

/**
 * A configuration's setup: how it started (its command line, whether it is a process tree under
 * --isolate) or why it did not; the held-out figures are filled in later.
 */
export function setupOf(
  config: { readonly id: string; readonly label: string },
  configFile: string,
  start: { command: string; isolated: boolean } | { error: string },
): ConfigurationSetup {
  const setup: ConfigurationSetup = {
    id: config.id,
    label: config.label,
    command: 'command' in start ? start.command : '',
    heldOutRequests: 0,
    heldOutFailures: 0,
    measures: !('command' in start)
      ? ''
      : start.isolated
        ? 'the leash supervisor + its worker processes (summed)'
        : 'the node process running server.ts',
    configFile,
  };
  if ('error' in start) setup.error = start.error;
  return setup;
}

/** What a configuration is measured by, from the processes servicePidOf found. */
export function processesOf(
  pids: { service: number; wrapper?: number },
  isolated: boolean,
): Pick<Measured, 'servicePid' | 'wrapperPid' | 'tree' | 'seen'> {
  return {
    servicePid: pids.service,
    wrapperPid: pids.wrapper,
    tree: isolated,
    seen: new Set([pids.service]),
  };
}

/** What a scenario is run with: the rounds, and where its processes run. */
export interface ScenarioOptions extends RoundsOptions {
  /** Pin the services to `serviceCpu` and everything else to `loadCpu`. */
  readonly pin: boolean;
  readonly serviceCpu: string;
  readonly loadCpu: string;
  /** Which leash checkout's CLI to run (default: this repository). */
  readonly leashRoot?: string;
}

/**
 * Calibrates on the configuration `baseline`, warms every configuration up, then runs the rounds.
 * Fills `result.amount`, `result.measurements` and `result.rssReset` (and the `error` of a
 * configuration whose processes ended); `label` prefixes the log.
 */
export async function measureRounds(
  generator: LoadGenerator,
  running: readonly Measured[],
  options: RoundsOptions,
  result: VariantResult,
  label: string,
  elapsed: () => string,
): Promise<void> {
  const { log } = options;
  const baseline = running.find((r) => r.config.id === 'baseline');
  if (baseline === undefined) throw new Error('no baseline to measure against');
  const load = (r: Measured, amount: number) =>
    generator.run({
      url: r.base,
      connections: options.connections,
      amount,
      requests: [...r.mix],
    });

  // 1. Calibrate the request count on the baseline, then warm every configuration up.
  const probe = await load(baseline, Math.max(options.connections * 50, 500));
  const rate = probe.requestsPerSecond;
  result.amount =
    options.amount ??
    Math.max(options.connections * 20, Math.round((rate * options.seconds) / 100) * 100);
  const warmAmount = Math.max(options.connections * 10, Math.round(rate * options.warmupSeconds));
  const rewarmAmount = Math.max(options.connections * 5, Math.round(rate * options.rewarmSeconds));
  log(
    `${label}: baseline ≈ ${rate.toFixed(0)} req/s; ${result.amount} requests per measurement, ${options.connections} connections, ${result.mix.length} requests in the mix`,
  );
  for (const r of running) await load(r, warmAmount);
  log(`${label}: warmed up (${elapsed()})`);

  // 2. Rounds: every configuration once per round, the order rotated each round. One whose
  // process is gone is measured no more (onLost says so), and the others go on.
  const active = [...running];
  for (let round = 0; round < options.rounds; round++) {
    const order = active.map((_, i) => active[(i + round) % active.length]!);
    if (round % 2 === 1) order.reverse();
    const line: string[] = [];
    for (const [slot, r] of order.entries()) {
      try {
        line.push(await measureOne(r, round, slot));
      } catch (error) {
        if (r === baseline) throw error;
        active.splice(active.indexOf(r), 1);
        const why = `not measured from round ${round + 1} on: ${(error as Error).message}; its stderr ended with: ${r.stderr().slice(-1500)}`;
        log(`${label}/${r.config.id}: ${why}`);
        const setup = result.configurations.find((c) => c.id === r.config.id);
        if (setup !== undefined) setup.error = why;
      }
    }
    log(`${label} round ${round + 1}/${options.rounds} (${elapsed()}): ${line.join(' · ')}`);
  }

  /** Measures one configuration once; throws when its processes are gone. */
  async function measureOne(r: Measured, round: number, slot: number): Promise<string> {
    for (const pid of [r.servicePid, ...(r.wrapperPid === undefined ? [] : [r.wrapperPid])])
      if (!isAlive(pid)) throw new Error(`process ${pid} has ended`);
    await load(r, rewarmAmount);
    await sleep(50);
    // The processes measured: listed before and again after (a worker started meanwhile counts
    // from its start; one that ended takes its last CPU along, and is counted as lost).
    const before = measuredPids(r);
    for (const pid of before) if (!resetPeakRss(pid)) result.rssReset = false;
    const cpu0 = cpuOf(before);
    const wrap0 = r.wrapperPid === undefined ? undefined : cpuTime(r.wrapperPid);
    const res = await load(r, result.amount);
    const after = measuredPids(r);
    const cpu1 = cpuOf(after);
    const wrap1 = r.wrapperPid === undefined ? undefined : cpuTime(r.wrapperPid);
    let serviceCpu = 0;
    for (const [pid, seconds] of cpu1) serviceCpu += seconds - (cpu0.get(pid) ?? 0);
    for (const pid of after) r.seen.add(pid);
    let peak = 0;
    let proportional = 0;
    for (const pid of cpu1.keys()) {
      peak += peakRss(pid);
      proportional += pss(pid);
    }
    const m: Measurement = {
      round,
      slot,
      config: r.config.id,
      requests: res.responses,
      non2xx: res.non2xx,
      errors: res.errors + res.timeouts,
      seconds: res.seconds,
      cpuPerRequestMs: (serviceCpu * 1000) / res.responses,
      requestsPerSecond: res.requestsPerSecond,
      p50Ms: res.p50,
      p99Ms: res.p99,
      peakRssMb: peak / 2 ** 20,
      pssMb: proportional / 2 ** 20,
      wrapperCpuMs:
        wrap0 === undefined || wrap1 === undefined
          ? null
          : (cpuSeconds(wrap1) - cpuSeconds(wrap0)) * 1000,
      wrapperPeakRssMb: r.wrapperPid === undefined ? null : peakRss(r.wrapperPid) / 2 ** 20,
      serviceCpuMs: serviceCpu * 1000,
      processes: cpu1.size,
      processesLost: [...cpu0.keys()].filter((pid) => !cpu1.has(pid)).length,
      processesStarted: [...cpu1.keys()].filter((pid) => !cpu0.has(pid)).length,
    };
    result.measurements.push(m);
    if (m.non2xx > 0 || m.errors > 0) {
      log(
        `${label}/${r.config.id} round ${round + 1}: ${m.non2xx} non-2xx (${JSON.stringify(res.statuses)}), ${m.errors} errors`,
      );
    }
    if (m.processesLost > 0 || m.processesStarted > 0) {
      log(
        `${label}/${r.config.id} round ${round + 1}: ${m.processesLost} measured processes ended and ${m.processesStarted} started during the measurement`,
      );
    }
    return `${r.config.id} ${m.cpuPerRequestMs.toFixed(3)} ms/req ${m.requestsPerSecond.toFixed(0)}/s`;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The processes a configuration's figures cover: the node process running the service, or under
 * --isolate the leash supervisor and its direct children, the worker processes (each a
 * `node server.ts`; the start-up process has ended before the front door opens). What the
 * service starts itself (a host lookup) is left out, as in every configuration.
 */
function measuredPids(r: Measured): number[] {
  return r.tree ? [r.servicePid, ...childrenOf(r.servicePid)] : [r.servicePid];
}

/** CPU seconds (user + sys) of each process that is still there. */
function cpuOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      out.set(pid, cpuSeconds(cpuTime(pid)));
    } catch {
      // It ended between the listing and the reading.
    }
  }
  return out;
}

/** SIGKILLs a process a run measured if it is still there and still runs the service. */
export function endLeftover(pid: number): void {
  try {
    const words = commandOf(pid);
    if (!words.some((w) => w.endsWith('server.ts') || w.endsWith('leash.js'))) return;
    process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** What `leash enforce --isolate` prints at start: groups, workers, layers and the group table. */
export function isolationOf(stderr: string): ConfigurationSetup['isolation'] {
  const head = /^leash: isolate: (\d+) groups, (\d+) workers \(([^)]*)\)/m.exec(stderr);
  if (head === null) return undefined;
  const rest = stderr.slice(head.index);
  // `  g1: GET /, GET /clock — 4 grants` per group, then `  (7 merges of groups …)` if any.
  const table = [...rest.matchAll(/^ {2}(\S+: .* — .*|\(\d+ merges? .*\))$/gm)].map((m) => m[1]!);
  return {
    groups: Number(head[1]),
    workers: Number(head[2]),
    layers: head[3]!,
    table,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
