import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Measurement, VariantResult } from '../../bench/lib/rounds.ts';
import {
  evaluateTargets,
  type Results,
  summarizeVariant,
  withLightSection,
} from '../../bench/report.ts';

/** One measurement with the figures that matter here; the rest as a quiet run has them. */
function measurement(
  round: number,
  config: string,
  cpuPerRequestMs: number,
  peakRssMb: number,
  wrapperPeakRssMb: number | null,
): Measurement {
  return {
    round,
    slot: 0,
    config,
    requests: 1000,
    non2xx: 0,
    errors: 0,
    seconds: 1,
    cpuPerRequestMs,
    requestsPerSecond: 1000,
    p50Ms: 1,
    p99Ms: 2,
    peakRssMb,
    pssMb: peakRssMb,
    wrapperCpuMs: wrapperPeakRssMb === null ? null : 0,
    wrapperPeakRssMb,
    serviceCpuMs: cpuPerRequestMs * 1000,
    processes: 1,
    processesLost: 0,
    processesStarted: 0,
  };
}

function lightRun(cpu: Record<string, number>, wrapperMb: number): VariantResult {
  const measurements: Measurement[] = [];
  for (let round = 0; round < 6; round++)
    for (const [config, ms] of Object.entries(cpu))
      measurements.push(
        measurement(
          round,
          config,
          ms * (1 + round / 100),
          config === 'enforce-kernel' ? 110 : 100,
          config.startsWith('enforce') || config === 'learn' ? wrapperMb : null,
        ),
      );
  return {
    variant: 'light-html',
    amount: 1000,
    connections: 10,
    rounds: 6,
    mix: [],
    policyRules: 10,
    nodeFlags: [],
    configurations: Object.keys(cpu).map((id) => ({
      id,
      label: id,
      command: '',
      heldOutRequests: 24,
      heldOutFailures: 0,
      measures: '',
      configFile: '',
    })),
    measurements,
    rssReset: true,
    pinned: true,
    seconds: 1,
  };
}

function targetsOf(light: VariantResult): Map<string, { status: string; measured: string }> {
  const partial: Omit<Results, 'targets'> = {
    version: 1,
    environment: {
      date: '',
      node: '',
      cpuModel: '',
      cores: 2,
      memoryGb: 1,
      kernel: '',
      commit: '',
      command: '',
      quick: false,
      pinned: true,
      durationSeconds: 1,
    },
    micro: [],
    growth: [],
    notes: [],
    service: [],
    summary: [],
    light: [light],
    lightSummary: [summarizeVariant(light)],
  };
  return new Map(evaluateTargets(partial).map((t) => [t.id, t]));
}

test('the light route targets compare enforce and learn with plain node and with sandworm', () => {
  const met = targetsOf(
    lightRun({ baseline: 0.1, sandworm: 0.25, learn: 0.12, 'enforce-kernel': 0.105 }, 35),
  );
  assert.equal(met.get('enforce-kernel-cpuPerRequestMs-light-html')?.status, 'met');
  assert.equal(met.get('learn-cpuPerRequestMs-light-html')?.status, 'met');
  assert.equal(met.get('enforce-kernel-vs-sandworm-light-html')?.status, 'met');
  assert.match(met.get('enforce-kernel-vs-sandworm-light-html')!.measured, /^0\.420×/);
  assert.equal(met.get('light-wrapper-rss')?.status, 'met');
  assert.equal(met.get('enforce-kernel-peakRssMb-light-html')?.status, 'met');

  const missed = targetsOf(
    lightRun({ baseline: 0.1, sandworm: 0.2, learn: 0.3, 'enforce-kernel': 0.25 }, 120),
  );
  assert.equal(missed.get('enforce-kernel-cpuPerRequestMs-light-html')?.status, 'missed');
  assert.equal(missed.get('learn-vs-sandworm-light-html')?.status, 'missed');
  assert.equal(missed.get('light-wrapper-rss')?.status, 'missed');
  assert.match(missed.get('light-wrapper-rss')!.measured, /^120\.0 MiB/);
});

test('a light-only run replaces the light section of BENCHMARKS.md and leaves the rest', () => {
  const doc = '# Benchmarks\n\n## Targets\n\nt\n\n## Micro-benchmarks\n\nm\n';
  const first = withLightSection(doc, '## Light route\n\nfirst\n');
  assert.equal(
    first,
    '# Benchmarks\n\n## Targets\n\nt\n\n## Light route\n\nfirst\n\n## Micro-benchmarks\n\nm\n',
  );
  assert.equal(
    withLightSection(first, '## Light route\n\nsecond\n'),
    '# Benchmarks\n\n## Targets\n\nt\n\n## Light route\n\nsecond\n\n## Micro-benchmarks\n\nm\n',
  );
  assert.equal(
    withLightSection('# Benchmarks\n\nx\n', '## Light route\n\nl\n'),
    '# Benchmarks\n\nx\n\n## Light route\n\nl\n',
  );
});
