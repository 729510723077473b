/**
 * @module
 * Learning at scale and loading large policies.
 *
 * - `learn n distinct facts`: the host's learn path (check against the live tree; when refused,
 *   add to it and to the learner) over n distinct runtime facts of the `spread` shape, with the
 *   learner's automatic flushes into a real policy file and the live tree swapped for the saved,
 *   simplified policy after each flush, as the agent does. Output: rules in the saved policy.
 *   Notes: time per fact and the process's peak RSS.
 * - `load a policy of n rules`: `createFileStore(...).load()` of a file with n exact rules
 *   (outbound endpoints, which never collapse), the start-up cost of a huge policy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  add,
  allows,
  countRules,
  createTree,
  type PolicyTree,
  replaceContents,
} from '../src/core/tree.ts';
import { registryWith } from '../src/modules/builtin.ts';
import { runtimeModule } from '../src/modules/runtime/module.ts';
import { createFileStore } from '../src/store/file-store.ts';
import { createLearner } from '../src/store/learner.ts';
import { SIMPLIFY, syntheticFacts } from './lib/fixtures.ts';
import { emit, type GrowthResult, isQuick, timeGrowth } from './lib/micro.ts';

const modules = registryWith();

function learnAll(n: number): { rules: number; rssMiB: number } {
  const dir = mkdtempSync(join(tmpdir(), 'leash-bench-learn-'));
  try {
    const facts = syntheticFacts(n, 0, 'spread');
    const store = createFileStore({ file: join(dir, 'leash.policy.json'), modules });
    const live: PolicyTree = createTree(runtimeModule.root);
    const learner = createLearner({
      store,
      modules,
      simplifyOptions: SIMPLIFY,
      onFlush: ({ policy }) => {
        const saved = policy.modules.get('runtime');
        if (saved !== undefined) replaceContents(live, saved);
      },
    });
    for (const fact of facts) {
      if (allows(live, fact, { nearest: false }).allowed) continue;
      add(live, fact);
      learner.learn('runtime', fact);
    }
    const saved = learner.flush();
    const rssMiB = process.resourceUsage().maxRSS / 1024;
    return { rules: countRules(saved.modules.get('runtime')!), rssMiB };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function policyFileOf(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-bench-load-'));
  const file = join(dir, 'leash.policy.json');
  const tree = createTree(runtimeModule.root);
  for (let k = 0; k < n; k++) {
    add(tree, [
      `GET /r${k % 20}/:id`,
      'app',
      'net.connect',
      `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}:${5000 + (k % 7)}`,
    ]);
  }
  createFileStore({ file, modules }).update(() => ({
    version: 1,
    modules: new Map([['runtime', tree]]),
  }));
  return file;
}

export function learnScaleBench(quick: boolean) {
  const growth: GrowthResult[] = [];
  const notes: string[] = [];
  const learnSizes = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
  let lastRss = 0;
  growth.push({
    name: 'learn n distinct facts',
    target: 'learn',
    note: 'the host learn path with automatic flushes; output = rules saved',
    points: timeGrowth(
      learnSizes,
      (n) => (n <= 10_000 ? 3 : 1),
      (n) => n,
      (n) => {
        const result = learnAll(n);
        lastRss = result.rssMiB;
        return result.rules;
      },
    ),
  });
  const largest = growth[0]!.points.at(-1)!;
  notes.push(
    `learning ${largest.n} distinct facts: ${((largest.ms * 1000) / largest.n).toFixed(1)} µs per fact, peak RSS of the whole benchmark process ${lastRss.toFixed(0)} MiB`,
  );
  const loadSizes = quick ? [10_000, 30_000] : [30_000, 100_000, 300_000];
  const files: string[] = [];
  growth.push({
    name: 'load a policy of n rules',
    target: 'load',
    note: 'createFileStore().load() of n exact endpoint rules; output = rules loaded',
    points: timeGrowth(
      loadSizes,
      (n) => (n <= 100_000 ? 3 : 2),
      (n) => {
        const file = policyFileOf(n);
        files.push(file);
        return file;
      },
      (file) => countRules(createFileStore({ file, modules }).load().modules.get('runtime')!),
    ),
  });
  for (const file of files) rmSync(join(file, '..'), { recursive: true, force: true });
  return { micro: [], growth, notes };
}

if (import.meta.main) emit(learnScaleBench(isQuick()));
