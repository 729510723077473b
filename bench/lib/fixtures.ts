/**
 * @module
 * Policies for the micro-benchmarks, made the way leash makes them: concrete facts like the
 * example service's, learned into a runtime tree and simplified with the default threshold.
 */
import type { SimplifyOptions } from '../../src/core/kind.ts';
import {
  add,
  addRule,
  createTree,
  type Facts,
  type PolicyTree,
  simplify,
} from '../../src/core/tree.ts';
import { runtimeModule } from '../../src/modules/runtime/module.ts';

export const APP_ROOT = '/srv/app';
export const DATA = '/srv/app/data';
export const USERS = ['alice', 'bob', 'carol', 'dave'];
const FILES = ['todo.txt', 'ideas.txt', 'draft.txt', 'avatar.png', 'chart.png', 'photo.png'];

export const SIMPLIFY: SimplifyOptions = { threshold: 3, roots: [APP_ROOT, '/tmp'], homes: [] };

/** What the example service's learning workload makes leash see, plus `extraRoutes` more routes. */
export function exampleFacts(extraRoutes = 40): Facts[] {
  const facts: Facts[] = [];
  for (const user of USERS) {
    for (const file of FILES) {
      const path = `${DATA}/uploads/${user}/${file}`;
      facts.push(['GET /files/:name', 'app', 'fs.read', path]);
      facts.push(['GET /download', 'app', 'fs.read', path]);
      facts.push(['POST /upload', 'app', 'fs.write', path]);
    }
    facts.push(['GET /files', 'app', 'fs.read', `${DATA}/uploads/${user}`]);
  }
  for (const host of ['localhost', '127.0.0.1']) {
    facts.push(['GET /ping', 'app', 'child.spawn', `getent hosts ${host}`]);
  }
  for (const id of ['a1b2c3', 'd4e5f6', '0718aa', 'bb9911']) {
    facts.push([
      'POST /export',
      'app',
      'child.spawn',
      `tar -czf ${DATA}/exports/${id}.tgz -C ${DATA} uploads`,
    ]);
  }
  facts.push(['GET /weather', 'node', 'net.connect', '127.0.0.1:45877']);
  facts.push(['GET /preview', 'node', 'net.connect', '127.0.0.1:45000']);
  facts.push(['@startup', 'node', 'net.listen', '127.0.0.1:45000']);
  for (const view of ['home.html', 'layout.html', 'note.html']) {
    facts.push(['GET /', 'app', 'fs.read', `${APP_ROOT}/views/${view}`]);
    facts.push(['GET /notes/:id/view', 'app', 'fs.read', `${APP_ROOT}/views/${view}`]);
  }
  for (let i = 0; i < extraRoutes; i++) {
    facts.push([`GET /api/r${i}`, 'app', 'fs.read', `${APP_ROOT}/views/r${i}.html`]);
    facts.push([`GET /api/r${i}`, 'pg', 'net.connect', '127.0.0.1:5432']);
  }
  return facts;
}

/** The example's policy, learned from exampleFacts() and simplified. */
export function examplePolicy(extraRoutes = 40): PolicyTree {
  const tree = createTree(runtimeModule.root);
  addRule(tree, ['@startup', 'node', 'fs.read', `${APP_ROOT}/**`]);
  addRule(tree, ['@startup', 'node', 'fs.read', `${APP_ROOT}/node_modules/**`]);
  for (const facts of exampleFacts(extraRoutes)) add(tree, facts);
  return simplify(tree, SIMPLIFY);
}

const CAPS = ['fs.read', 'fs.read', 'fs.read', 'fs.write', 'net.connect', 'child.spawn'] as const;
const PACKAGES = ['app', 'pg', 'sharp'];

export type Shape = 'spread' | 'wide';

/**
 * `n` distinct runtime facts, deterministic (facts `offset…offset+n-1`).
 * - `spread`: a large service: 20 routes, 3 packages, reads and writes of files in 50 per-user
 *   directories under the data directory, endpoints, command lines;
 * - `wide`: one route reading `n` files of one directory: the widest sibling list there is.
 */
export function syntheticFacts(n: number, offset = 0, shape: Shape = 'spread'): Facts[] {
  const out: Facts[] = [];
  for (let k = offset; k < offset + n; k++) {
    if (shape === 'wide') {
      out.push([
        'GET /files/:name',
        'app',
        'fs.read',
        `${DATA}/uploads/f${k}.${k % 3 === 0 ? 'png' : 'txt'}`,
      ]);
      continue;
    }
    const scope = `GET /r${k % 20}/:id`;
    const pkg = PACKAGES[(k >> 5) % PACKAGES.length]!;
    const cap = CAPS[(k >> 2) % CAPS.length]!;
    let resource: string;
    switch (cap) {
      case 'fs.read':
      case 'fs.write':
        resource = `${DATA}/u${(k >> 3) % 50}/f${k}.${k % 2 === 0 ? 'txt' : 'png'}`;
        break;
      case 'net.connect':
        resource = `10.0.${(k >> 8) % 4}.${k % 250}:${5432 + (k % 3)}`;
        break;
      default:
        resource = `convert ${DATA}/in/${k}.png -resize ${k % 50}x${k % 40} ${DATA}/out/${k}.png`;
    }
    out.push([scope, pkg, cap, resource]);
  }
  return out;
}

export function treeOf(facts: readonly Facts[]): PolicyTree {
  const tree = createTree(runtimeModule.root);
  for (const f of facts) add(tree, f);
  return tree;
}
