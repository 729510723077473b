/**
 * @module
 * `simplify` and `merge` of policy trees as they grow: 1k, 3k, 10k, 30k and 100k distinct
 * runtime facts, in two shapes (bench/lib/fixtures.ts): `spread` (a large service: 20 routes,
 * 3 packages, files in 50 directories, endpoints, command lines) and `wide` (one route reading
 * n files of one directory). The time of each size is the median of a few runs on a fresh copy
 * of the tree; `--quick` stops at 10k.
 */
import { merge, simplify } from '../src/core/policy.ts';
import { countRules, type PolicyTree } from '../src/core/tree.ts';
import { type Shape, SIMPLIFY, syntheticFacts, treeOf } from './lib/fixtures.ts';
import { emit, type GrowthResult, isQuick, timeGrowth } from './lib/micro.ts';

const policyOf = (tree: PolicyTree) => ({
  version: 1 as const,
  modules: new Map([['runtime', tree]]),
});

export function policyOpsBench(quick: boolean) {
  const sizes = quick ? [1_000, 10_000] : [1_000, 3_000, 10_000, 30_000, 100_000];
  // Three runs even at 100k, where a single one was timed while simplify took seconds: it takes a
  // tenth of a second now, and one run's collection of the garbage before it moved the fitted
  // growth exponent by a tenth between two runs of the same code.
  const repeats = (n: number) => (n <= 1_000 ? 7 : 3);
  const growth: GrowthResult[] = [];
  for (const shape of ['spread', 'wide'] as Shape[]) {
    growth.push({
      name: `simplify (${shape})`,
      target: 'simplify',
      note: 'output = rules after simplification',
      points: timeGrowth(
        sizes,
        repeats,
        (n) => policyOf(treeOf(syntheticFacts(n, 0, shape))),
        (p) => countRules(simplify(p, SIMPLIFY).modules.get('runtime')!),
      ),
    });
    growth.push({
      name: `merge (${shape})`,
      note: 'two policies of n facts each, half of them shared; output = rules of the union',
      points: timeGrowth(
        sizes,
        repeats,
        (n) => [
          policyOf(treeOf(syntheticFacts(n, 0, shape))),
          policyOf(treeOf(syntheticFacts(n, n / 2, shape))),
        ],
        ([a, b]) => countRules(merge(a!, b!).modules.get('runtime')!),
      ),
    });
  }
  return { micro: [], growth, notes: [] };
}

if (import.meta.main) emit(policyOpsBench(isQuick()));
