// simplify and merge give exactly the policies they gave before they were made near-linear
// (issue 14): digests of the rules, computed with the implementation of commit 06983cc, on the
// benchmark's fixtures (bench/lib/fixtures.ts), on a mixed policy that takes every path of the
// kinds (dot files, mixed depths, escapes, hand-written patterns, quoted and chained commands), and
// on a tree whose collapsing kind is not the last (members with subtrees of their own).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { type Shape, SIMPLIFY, syntheticFacts, treeOf } from '../../bench/lib/fixtures.ts';
import { literalKind } from '../../src/core/kinds/literal.ts';
import { pathKind } from '../../src/core/kinds/path.ts';
import {
  add,
  addRule,
  createTree,
  merge,
  type PolicyTree,
  rules,
  simplify,
} from '../../src/core/tree.ts';
import { runtimeModule } from '../../src/modules/runtime/module.ts';

const digest = (tree: PolicyTree) =>
  createHash('sha256')
    .update(JSON.stringify(rules(tree)))
    .digest('hex')
    .slice(0, 16);

/** A deterministic mixed runtime policy of `n` facts, plus hand-written patterns. */
function mixedTree(n: number, offset = 0): PolicyTree {
  const tree = createTree(runtimeModule.root);
  addRule(tree, ['GET /a', 'app', 'fs.read', '/srv/app/views/*.html']);
  addRule(tree, ['GET /a', 'app', 'fs.read', '/srv/app/data/**']);
  addRule(tree, ['GET /b', 'app', 'child.spawn', 'convert {path:/srv/app/data/in/*.png} {arg}']);
  addRule(tree, ['GET /b', 'app', 'fs.write', '/tmp/*/*.log']);
  const dirs = [
    '/srv/app/data/u0',
    '/srv/app/data/u1',
    '/srv/app/data/u2',
    '/srv/app/views',
    '/srv/app/node_modules/x/lib',
    '/srv/app/data/.cache',
    '/tmp/t0',
    '/tmp/t1/deep/er',
    '/etc/ssl',
    '/home/dev/proj',
    '/srv',
  ];
  const names = (i: number) =>
    [
      `f${i}.png`,
      `f${i}.txt`,
      `f${i}`,
      '.env',
      `weird name ${i % 7}.html`,
      `a*b${i % 5}`,
      `q\\r${i % 4}.log`,
      `v${i % 13}.html`,
    ][i % 8]!;
  const commands = (i: number) =>
    [
      `convert /srv/app/data/in/${i}.png -resize ${i % 50}x${i % 40} /srv/app/data/out/${i}.png`,
      `ping -c 1 host${i % 9}`,
      `sh -c 'echo ${i}'`,
      `git log -n ${i % 30}`,
      `tar -czf /tmp/e${i % 40}.tgz -C /srv/app/data uploads`,
      `node worker.js ${i % 20}`,
      `ping -c 1 h${i % 6}; rm -rf /`,
      `echo "a b ${i % 8}"  |  wc -l`,
      `ls /srv/app/data/u${i % 3}/{a,b}`,
    ][i % 9]!;
  const hosts = (i: number) =>
    [
      `${'abcde'[i % 5]}.cdn.example.com:443`,
      `10.0.${i % 3}.${i % 7}:${5432 + (i % 2)}`,
      `[::1]:${3000 + (i % 4)}`,
      `x${i % 4}.com:80`,
    ][i % 4]!;
  for (let k = offset; k < offset + n; k++) {
    const scope = ['GET /a', 'GET /b', 'POST /c/:id', '@startup'][k % 4]!;
    const pkg = ['app', 'pg'][(k >> 2) % 2]!;
    const cap = [
      'fs.read',
      'fs.write',
      'fs.read',
      'child.spawn',
      'net.connect',
      'fs.read',
      'env.read',
    ][(k >> 3) % 7]!;
    const depth = (k >> 5) % 3;
    const resource =
      cap === 'child.spawn'
        ? commands(k)
        : cap === 'net.connect'
          ? hosts(k)
          : cap === 'env.read'
            ? `VAR_${k % 11}`
            : `${dirs[k % dirs.length]}${'/d'.repeat(depth)}/${names(k >> 1)}`;
    add(tree, [scope, pkg, cap, resource]);
  }
  return tree;
}

/** scope › path › mode › path: files whose rules go on below them, so that a collapse merges subtrees. */
function nestedTree(n: number, offset = 0): PolicyTree {
  const leaf = pathKind();
  const mode = literalKind({ name: 'mode', child: () => leaf });
  const tree = createTree(
    literalKind({ name: 'scope', child: () => pathKind({ child: () => mode }) }),
  );
  addRule(tree, ['s0', '/srv/app/data/u1/*', 'r', '/tmp/*.log']);
  for (let k = offset; k < offset + n; k++) {
    const path = `/srv/app/data/u${k % 5}/${k % 4 === 0 ? '.env' : `f${k % 40}.${k % 3 === 0 ? 'png' : 'txt'}`}`;
    const other = `/tmp/${['a', 'b', 'c', 'd'][k % 4]}${k % 7}.${k % 2 === 0 ? 'log' : 'out'}`;
    add(tree, [`s${k % 3}`, path, k % 5 === 0 ? 'w' : 'r', other]);
  }
  return tree;
}

const GOLDEN: Record<string, readonly [simplify: string, merge: string, simplifyMerge: string]> = {
  'spread 1000': ['64bcb4e802990c39', 'f2d419149b6aa5a1', '0be452c79740ac90'],
  'spread 3000': ['4f4d5d917e295304', '9a3fbf0c9175df27', 'f3bd453cd282d0e1'],
  'spread 10000': ['20cc4e2f26668d57', '2a4d18e346f132e3', '24efde9e623883c7'],
  'wide 1000': ['05b20b703b732e75', 'ced71f0d586899d3', '05b20b703b732e75'],
  'wide 10000': ['05b20b703b732e75', '58834687ee30aa4f', '05b20b703b732e75'],
  'wide 30000': ['05b20b703b732e75', '2016067df1b25b5c', '05b20b703b732e75'],
  'mixed 2000': ['9e6cec03de296dd1', 'bc2cd1a827f675a1', '18b2bcb0662a84ce'],
  'mixed 20000': ['632ab60fb209bab5', '6af12b57529e8433', '6c9760c54aefd9e1'],
  'nested 300': ['875978424cc46d2b', 'c794610414ca0a26', '44666a2098bd433b'],
  'nested 3000': ['44666a2098bd433b', 'd79daa4ff476b932', '44666a2098bd433b'],
};

for (const [label, make] of [
  // Past 16,384 keys in one node (wide 30000) the kinds' key caches no longer hold every key.
  ...(
    [
      ['spread', [1_000, 3_000, 10_000]],
      ['wide', [1_000, 10_000, 30_000]],
    ] as const satisfies ReadonlyArray<readonly [Shape, readonly number[]]>
  ).flatMap(([shape, sizes]) =>
    sizes.map(
      (n) =>
        [
          `${shape} ${n}`,
          (offset: number) => treeOf(syntheticFacts(n, offset * n, shape)),
        ] as const,
    ),
  ),
  ...[2_000, 20_000].map(
    (n) => [`mixed ${n}`, (offset: number) => mixedTree(n, offset * n)] as const,
  ),
  ...[300, 3_000].map(
    (n) => [`nested ${n}`, (offset: number) => nestedTree(n, offset * n)] as const,
  ),
] as const) {
  test(`simplify and merge give the golden policies: ${label}`, () => {
    const a = make(0);
    const b = make(0.5);
    const merged = merge(a, b);
    const got = [digest(simplify(a, SIMPLIFY)), digest(merged), digest(simplify(merged, SIMPLIFY))];
    if (process.env.LEASH_PRINT_GOLDEN) console.log(JSON.stringify([label, got]));
    assert.deepEqual(got, GOLDEN[label]);
  });
}
