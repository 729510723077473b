/**
 * @module
 * The cost of one decision of the runtime module, on a policy like the example service's
 * (learned from its facts and simplified, plus 40 more routes), at three depths:
 *
 * - `policy lookup`: `allows(tree, facts)`, the tree walk alone (exact keys and patterns);
 * - `host check`: the module host's `check(facts, use)` in enforce mode, what every enforcer
 *   calls once it knows the scope and package (the lookup plus the verdict);
 * - `full check`: the runtime module's `check(capability, resource)` as the fs/net/child
 *   wrappers call it inside a request: scope from AsyncLocalStorage, package from the stack,
 *   the module-loader test (another stack walk, for file reads), then the host check;
 * - `wrapped fs.statSync`: a real `fs.statSync` with leash's wrapper against the same call
 *   unwrapped: what a service's file access pays, end to end.
 *
 * The full check remembers what it allowed per route, package and resource (AllowedMemo): a
 * repeated decision is a lookup after the look at the stack, and none when a `*` rule grants it.
 */
import fs, { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHost } from '../src/agent/host.ts';
import { packageResolver } from '../src/attribution/resolver.ts';
import { runInRequest } from '../src/attribution/scope.ts';
import { DEFAULT_SIMPLIFY_OPTIONS } from '../src/core/kind.ts';
import { addRule, allows, type Facts } from '../src/core/tree.ts';
import { createLogger } from '../src/log/logger.ts';
import type { UseContext } from '../src/module/module.ts';
import { createRuntimeContext } from '../src/modules/runtime/context.ts';
import { runtimeModule } from '../src/modules/runtime/module.ts';
import { wrapFs } from '../src/modules/runtime/wrap-fs.ts';
import { APP_ROOT, DATA, examplePolicy } from './lib/fixtures.ts';
import { emit, isQuick, keep, type MicroCase, microOptions, runMicro } from './lib/micro.ts';

const BATCH = 1000;

export async function decisionBench(quick: boolean) {
  const tree = examplePolicy(40);
  // A real file for the wrapped-call case, granted to the route by a rule of its own.
  const dir = mkdtempSync(join(tmpdir(), 'leash-bench-decision-'));
  mkdirSync(join(dir, 'u'), { recursive: true });
  const file = join(dir, 'u', 'seeds.txt');
  writeFileSync(file, 'seeds\n');
  addRule(tree, ['GET /files/:name', 'app', 'fs.read', `${dir}/u/*`]);

  const cases: Array<{ name: string; facts: Facts; target?: string }> = [
    {
      name: 'file read (pattern rule)',
      facts: ['GET /files/:name', 'app', 'fs.read', `${DATA}/uploads/erin/seeds.txt`],
      target: 'decision',
    },
    {
      name: 'outbound connect (exact rule)',
      facts: ['GET /weather', 'node', 'net.connect', '127.0.0.1:45877'],
      target: 'decision',
    },
    {
      name: 'spawn (exact command)',
      facts: ['GET /ping', 'app', 'child.spawn', 'getent hosts localhost'],
      target: 'decision',
    },
    {
      name: 'spawn (command template)',
      facts: [
        'POST /export',
        'app',
        'child.spawn',
        `tar -czf ${DATA}/exports/9f8e7d.tgz -C ${DATA} uploads`,
      ],
      target: 'decision',
    },
  ];
  for (const c of cases) {
    if (!allows(tree, c.facts).allowed)
      throw new Error(`fixture policy refuses ${c.facts.join(' › ')}`);
  }
  const refused: Facts = ['GET /files/:name', 'app', 'fs.read', '/etc/passwd'];

  const logger = createLogger({ level: 'silent' });
  const sink = { learn: () => false, learnRule: () => false, recordViolation: () => {} };
  const packages = packageResolver();
  let currentUse: UseContext = { scope: '@startup', package: 'app' };
  const host = createHost({
    module: runtimeModule,
    mode: 'enforce',
    tree,
    policyFile: 'bench.policy.json',
    simplify: DEFAULT_SIMPLIFY_OPTIONS,
    sink,
    logger,
    appRoot: APP_ROOT,
    use: () => currentUse,
    settings: { principal: undefined, inputHeaders: [], maxRememberedValues: 100 },
  });
  const context = createRuntimeContext(host, packages, APP_ROOT);

  const micro: MicroCase[] = [];
  for (const c of cases) {
    micro.push({
      group: 'decision: policy lookup',
      name: c.name,
      batch: BATCH,
      fn: () => {
        let r: unknown;
        for (let i = 0; i < BATCH; i++) r = allows(tree, c.facts);
        keep(r);
      },
    });
  }
  for (const c of cases) {
    const use = { scope: c.facts[0]!, package: c.facts[1]! };
    micro.push({
      group: 'decision: host check',
      name: c.name,
      batch: BATCH,
      ...(c.target === undefined ? {} : { target: c.target }),
      fn: () => {
        let r: unknown;
        for (let i = 0; i < BATCH; i++) r = host.check(c.facts, use);
        keep(r);
      },
    });
  }
  micro.push({
    group: 'decision: host check',
    name: 'refused file read (report path: nearest rule, log once)',
    batch: 100,
    fn: () => {
      for (let i = 0; i < 100; i++) {
        try {
          host.check(refused, { scope: 'GET /files/:name', package: 'app' });
        } catch (error) {
          keep(error);
        }
      }
    },
  });
  // The full check as the wrappers run it, inside a request of the route.
  // `fromWrapper`: the check names the function the caller called, as the fs wrappers do, so the
  // stack is read from right below it.
  const full = (
    scope: string,
    capability: 'fs.read' | 'net.connect' | 'child.spawn',
    resource: string,
    fromWrapper = false,
  ) => {
    const state = { scope, request: {} };
    // The wrapper a service calls (fs.readFile, say) and the service's code calling it.
    const wrapper = (): void =>
      context.check(capability, resource, undefined, fromWrapper ? wrapper : undefined);
    const service = (): void => {
      for (let i = 0; i < 100; i++) wrapper();
    };
    return () => {
      runInRequest(state, service);
    };
  };
  micro.push(
    {
      group: 'decision: full check (attribution + host check)',
      name: 'file read',
      batch: 100,
      target: 'decision-attributed',
      fn: full('GET /files/:name', 'fs.read', `${DATA}/uploads/erin/seeds.txt`),
    },
    {
      group: 'decision: full check (attribution + host check)',
      name: 'file read, from below the fs wrapper',
      batch: 100,
      target: 'decision-attributed',
      fn: full('GET /files/:name', 'fs.read', `${DATA}/uploads/erin/seeds.txt`, true),
    },
    {
      group: 'decision: full check (attribution + host check)',
      name: 'spawn (exact command)',
      batch: 100,
      target: 'decision-attributed',
      fn: full('GET /ping', 'child.spawn', 'getent hosts localhost'),
    },
  );
  // A rule granting a directory to every package of a route (`*`, written by hand): no stack.
  addRule(tree, ['GET /public/:name', '*', 'fs.read', `${dir}/u/*`]);
  micro.push({
    group: 'decision: full check (attribution + host check)',
    name: 'file read granted to every package (`*` rule: no stack)',
    batch: 100,
    target: 'decision-attributed',
    fn: full('GET /public/:name', 'fs.read', file, true),
  });
  // The package of this bench file's frames is `app`; connect is attributed to `node` in the
  // example (undici), so grant it to app here.
  addRule(tree, ['GET /weather', 'app', 'net.connect', '127.0.0.1:45877']);
  micro.push({
    group: 'decision: full check (attribution + host check)',
    name: 'outbound connect',
    batch: 100,
    target: 'decision-attributed',
    fn: full('GET /weather', 'net.connect', '127.0.0.1:45877'),
  });

  // A real call, wrapped and not.
  const rawStat = fs.statSync;
  const results = await runMicro(
    [
      ...micro,
      {
        group: 'fs.statSync end to end',
        name: 'unwrapped',
        batch: 100,
        fn: () => {
          for (let i = 0; i < 100; i++) keep(rawStat(file));
        },
      },
    ],
    microOptions(quick),
  );
  const unwrap = wrapFs(context);
  currentUse = { scope: 'GET /files/:name', package: 'app' };
  const state = { scope: 'GET /files/:name', request: {} };
  const wrapped = await runMicro(
    [
      {
        group: 'fs.statSync end to end',
        name: 'wrapped by leash (enforce)',
        batch: 100,
        fn: () =>
          runInRequest(state, () => {
            for (let i = 0; i < 100; i++) keep(fs.statSync(file));
          }),
      },
    ],
    microOptions(quick),
  );
  unwrap();
  rmSync(dir, { recursive: true, force: true });
  return { micro: [...results, ...wrapped], growth: [], notes: [] };
}

if (import.meta.main) emit(await decisionBench(isQuick()));
