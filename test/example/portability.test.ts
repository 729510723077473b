// The example's policy on "another machine": the service (with its node_modules and config) is
// learned in one temp directory, then copied with the learned policy into another one and started
// there under `leash enforce` on another port, with a fresh data directory of its own, the next
// day (the clock faked by a preload that leash's agent reads too). The held-out workload passes
// with 0 refusals. The partner API and the CDN are services of their own, at the same address on
// both machines. Loopback only.
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CDN_HOST } from '../../examples/service/config.ts';
import { freePort, SERVER_SCRIPT, startExample } from '../../examples/service/start.ts';
import { heldOutWorkload, learningWorkload } from '../../examples/service/workload.ts';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE_DIR = fileURLToPath(new URL('../../examples/service/', import.meta.url));
const FAKE_CLOCK = fileURLToPath(new URL('./fixtures/fake-clock.mjs', import.meta.url));
const DAY = 24 * 3600 * 1000;
/** What the service imports from npm (app.ts, auth.ts, db-postgres.ts). */
const DEPENDENCIES = ['express', 'express-session', 'pg'];
/**
 * What a run leaves beside the service, which a deployment does not carry to another machine: its
 * data, the violations and the lock of the policy, the CSP key (a secret kept out of version
 * control), the isolation status.
 */
const RUN_FILES =
  /^(data|leash\.violations\.json|leash\.policy\.json\.lock|leash\.csp\.key|leash\.status\.json)$/;

/**
 * The package directories `names` need, resolved as Node resolves them (a package's own
 * node_modules first, then each one above it up to the repository's), as paths under the repo.
 */
function dependencyClosure(names: readonly string[]): string[] {
  const found = new Set<string>();
  const visit = (name: string, from: string) => {
    for (let dir = from; ; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) {
        if (found.has(candidate)) return;
        found.add(candidate);
        const manifest = JSON.parse(readFileSync(join(candidate, 'package.json'), 'utf8'));
        for (const dependency of Object.keys({
          ...manifest.dependencies,
          ...manifest.optionalDependencies,
        }))
          visit(dependency, candidate);
        return;
      }
      // An optional dependency may be absent (pg-native, pg-cloudflare on Node).
      if (dir === REPO.replace(/\/$/, '') || dir === dirname(dir)) return;
    }
  };
  for (const name of names) visit(name, SERVICE_DIR.replace(/\/$/, ''));
  return [...found].map((dir) => relative(REPO, dir));
}

/** The example as a deployment has it: its files and its own node_modules, no repo around it. */
function installService(app: string): void {
  // Nothing of the demo's or another test's runs in the repository's copy, no policy either.
  cpSync(SERVICE_DIR, app, {
    recursive: true,
    filter: (source) => {
      const path = relative(SERVICE_DIR, source);
      return !RUN_FILES.test(path) && path !== 'leash.policy.json' && path !== 'node_modules';
    },
  });
  for (const dir of dependencyClosure(DEPENDENCIES)) {
    // node_modules/a/node_modules/b stays nested as it is in the repository.
    cpSync(join(REPO, dir), join(app, dir), { recursive: true });
  }
}

/** Copies what a deployment carries to another machine: the service, its config and policy. */
function copyDeployment(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, {
    recursive: true,
    filter: (source) => !RUN_FILES.test(relative(from, source)),
  });
}

function violations(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.includes('"event":"violation"'));
}

interface Move {
  /** The first machine's DATA_DIR, from its app directory. */
  readonly dataA: (app: string, machine: string) => string;
  readonly dataB: (app: string, machine: string) => string;
  /** Settings added to the example's leash.config.json on both machines. */
  readonly config?: Record<string, unknown>;
}

interface Moved {
  /** The second machine's app directory. */
  readonly app: string;
  /** What `leash enforce` printed there. */
  readonly stderr: string;
  /** The /clock page it served. */
  readonly clock: string;
  /** The policy file as learned. */
  readonly policy: string;
}

/**
 * Learns the example in one temp directory, copies it with its policy into another and enforces
 * it there on another port the next day. Returns the enforcing run's stderr and its /clock page.
 */
async function learnThenMove(move: Move): Promise<Moved> {
  const machineA = mkdtempSync(join(tmpdir(), 'leash-portability-a-'));
  const machineB = mkdtempSync(join(tmpdir(), 'leash-portability-b-'));
  const appA = join(machineA, 'notes');
  const appB = join(machineB, 'srv', 'notes-service');
  installService(appA);
  if (move.config !== undefined) {
    const file = join(appA, 'leash.config.json');
    const config = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...config, ...move.config }, null, 2));
  }
  // Services of their own at one address on both machines; only the example's port moves.
  const external = { partner: await freePort(), cdn: await freePort(CDN_HOST) };
  const today = Date.parse('2026-12-02T10:00:00Z');

  const start = (mode: string, app: string, dataDir: string, port: number, now: number) =>
    startExample({
      dataDir,
      cwd: app,
      ports: { ...external, server: port },
      nodeOptions: ['--import', FAKE_CLOCK],
      env: {
        LEASH_CONFIG: '',
        LEASH_MODE: '',
        LEASH_POLICY: '',
        NO_COLOR: '1',
        FAKE_NOW: String(now),
      },
      wrap: (command) => [
        process.execPath,
        BIN,
        mode,
        '--',
        ...command.map((part) => (part === SERVER_SCRIPT ? join(app, 'server.ts') : part)),
      ],
    });

  const portA = await freePort();
  const learning = await start('learn', appA, move.dataA(appA, machineA), portA, today);
  try {
    assert.deepEqual((await learningWorkload(learning.base)).failures, []);
  } finally {
    await learning.stop();
  }
  const policy = readFileSync(join(appA, 'leash.policy.json'), 'utf8');
  assert.ok(!policy.includes(machineA), `a path of the first machine in the policy:\n${policy}`);

  // The other machine: the deployment copied, a data directory that does not exist yet.
  copyDeployment(appA, appB);
  const dataB = move.dataB(appB, machineB);
  assert.equal(existsSync(dataB), false);
  let portB = await freePort();
  while (portB === portA) portB = await freePort();
  const enforcing = await start('enforce', appB, dataB, portB, today + DAY);
  let failures: unknown[];
  let clock = '';
  try {
    failures = (await heldOutWorkload(enforcing.base)).failures;
    clock = await (await fetch(new URL('/clock', enforcing.base))).text();
  } finally {
    await enforcing.stop();
  }
  const stderr = enforcing.output().stderr;
  assert.deepEqual(failures, [], stderr);
  assert.deepEqual(violations(stderr), []);
  // leash enforce made the copy's CSP key before the service started: reports are signed with it,
  // not with a key of one process.
  assert.ok(existsSync(join(appB, 'leash.csp.key')));
  assert.doesNotMatch(stderr, /csp-key-ephemeral/);
  assert.ok(existsSync(join(dataB, 'notes.db')), 'the copy kept its data in its own DATA_DIR');
  return { app: appB, stderr, clock, policy };
}

/**
 * Under the kernel layer (where this machine has it), no grant of a path the fresh copy had not
 * made yet widened to the app directory or above it, where the policy and the code are.
 */
function assertGrantsBelowApp({ app, stderr }: Moved): void {
  const layers = /leash: enforce layers: (.*)/.exec(stderr)?.[1] ?? '';
  if (!layers.includes('kernel')) return;
  for (const [, granted] of stderr.matchAll(/granted on (\S+)$/gm)) {
    const rel = relative(granted!, app);
    assert.ok(rel.startsWith('..') || isAbsolute(rel), `granted on ${granted}:\n${stderr}`);
  }
}

test("the example's policy enforces a copy in another directory, on another port, the next day, with 0 refusals", async () => {
  // DATA_DIR where config.ts puts it by default: `data` beside the service, so it moves with it.
  const data = (app: string) => join(app, 'data');
  const moved = await learnThenMove({ dataA: data, dataB: data });
  assert.match(moved.policy, /"\{app\}\/data\/uploads\/\*\/\*"/);
  assert.match(moved.policy, /"127\.0\.0\.1:\{env:PORT\}"/);
  // The service ran on the next day's clock (leash's agent, in its process, reads the same Date).
  assert.match(moved.clock, /<time>2026-12-03T/);
  assertGrantsBelowApp(moved);
});

test('with DATA_DIR among the envRoots, the copy also enforces with its data directory somewhere else', async () => {
  const moved = await learnThenMove({
    dataA: (_app, machine) => join(machine, 'data'),
    dataB: (_app, machine) => join(machine, 'var', 'lib', 'notes'),
    config: { envRoots: ['DATA_DIR'] },
  });
  assert.match(moved.policy, /"\{env:DATA_DIR\}\/uploads\/\*\/\*"/);
  assert.match(moved.clock, /<time>2026-12-03T/);
  assertGrantsBelowApp(moved);
});
