// The preload on its own, without the leash command: `node --import leash/register service.mjs`
// with LEASH_MODE, LEASH_POLICY and LEASH_CONFIG. It learns, enforces, fails closed on a bad
// policy, and reaches forked children through NODE_OPTIONS. Every request goes to loopback.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPolicyJson } from '../support/policy-json.ts';
import { run } from '../support/processes.ts';
import { get, type Running, startListening } from './helpers.ts';

// The checkout: from here `leash/register` resolves to the package itself (a self-reference), and
// with the leash-source condition to src/register.ts.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PRELOAD = ['--conditions=leash-source', '--import', 'leash/register'];
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

let dir: string;
let data: string;
let service: string;
let policyFile: string;
let configFile: string;
let forkPolicy: string;
let forkParent: string;
let forkChild: string;
let learnedFork: { code: number | null; stdout: string; stderr: string };

function leashEnv(mode: string, policy: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_OPTIONS: '',
    LEASH_MODE: mode,
    LEASH_POLICY: policy,
    LEASH_CONFIG: configFile,
    ...extra,
  };
}

/** `node --import leash/register <service>` from the checkout; waits for `listening on <url>`. */
function startPreloaded(env: NodeJS.ProcessEnv): Promise<Running> {
  return startListening([process.execPath, ...PRELOAD, service], {
    cwd: ROOT,
    env,
  });
}

/** Runs fork-parent.mjs with the preload in NODE_OPTIONS only, as `leash learn` starts commands. */
async function runForkParent(mode: string, reads: string) {
  const result = await run(process.execPath, [forkParent], {
    cwd: ROOT,
    env: leashEnv(mode, forkPolicy, {
      NODE_OPTIONS: '--conditions=leash-source --import=leash/register',
      CHILD_READS: reads,
    }),
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function readPolicy(file: string) {
  // The config is in `dir`: the app directory of the services the policies were learned for.
  return readPolicyJson(file, { app: dir });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'leash-preload-'));
  data = join(dir, 'data');
  mkdirSync(data);
  for (const name of ['a', 'b']) writeFileSync(join(data, `${name}.txt`), `file ${name}`);
  service = join(dir, 'service.mjs');
  copyFileSync(fixture('preload-service.mjs'), service);
  forkParent = join(dir, 'fork-parent.mjs');
  forkChild = join(dir, 'fork-child.mjs');
  copyFileSync(fixture('fork-parent.mjs'), forkParent);
  copyFileSync(fixture('fork-child.mjs'), forkChild);
  configFile = join(dir, 'leash.config.json');
  writeFileSync(configFile, JSON.stringify({ flushIntervalMs: 100 }));
  policyFile = join(dir, 'leash.policy.json');
  forkPolicy = join(dir, 'fork.policy.json');

  const learning = await startPreloaded(leashEnv('learn', policyFile));
  const read = await get(learning.base, `/read?path=${encodeURIComponent(join(data, 'a.txt'))}`);
  assert.equal(read.body, 'file a');
  const { signal } = await learning.stop();
  assert.equal(signal, 'SIGTERM', 'without a handler of its own the service dies by the signal');

  learnedFork = await runForkParent('learn', join(data, 'a.txt'));
});

test('LEASH_MODE=learn: the preload alone learns what the service did into LEASH_POLICY', () => {
  const policy = readPolicy(policyFile);
  assert.deepEqual(policy.runtime['GET /read'], { app: { 'fs.read': [join(data, 'a.txt')] } });
  assert.deepEqual(policy.runtime['@startup'].app, { 'net.listen': ['127.0.0.1:0'] });
  assert.deepEqual(policy.runtime['@loader'].node, { 'fs.read': [`${dir}/**`] });
});

test('LEASH_MODE=enforce: a learned read passes and a read outside the policy is refused with ERR_LEASH_DENIED', async () => {
  const enforcing = await startPreloaded(leashEnv('enforce', policyFile));
  const secret = join(data, 'b.txt');
  try {
    assert.equal(
      (await get(enforcing.base, `/read?path=${encodeURIComponent(join(data, 'a.txt'))}`)).body,
      'file a',
    );
    const refused = await get(enforcing.base, `/read?path=${encodeURIComponent(secret)}`);
    assert.equal(refused.status, 500);
    assert.equal(refused.body, 'ERR_LEASH_DENIED');
  } finally {
    await enforcing.stop();
  }
  const violations = enforcing
    .stderr()
    .split('\n')
    .filter((line) => line.includes('"event":"violation"'))
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    violations.map((v) => [v.mode, v.facts]),
    [['enforce', ['GET /read', 'app', 'fs.read', secret]]],
  );
});

for (const mode of ['enforce', 'learn'] as const) {
  test(`a policy with a JSON syntax error stops the service before it listens (${mode}): exit 2, one line naming file:line:col`, async () => {
    const broken = join(dir, `broken-${mode}.policy.json`);
    const text = '{\n  "version": 1,\n  "runtime": {,}\n}\n';
    writeFileSync(broken, text);
    const result = await run(process.execPath, [...PRELOAD, service], {
      cwd: ROOT,
      env: leashEnv(mode, broken),
    });
    assert.equal(result.status, 2, result.stderr);
    assert.equal(result.stdout, '', 'the service never started listening');
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
    assert.ok(
      result.stderr.startsWith(`leash: not starting the service: ${broken}:3:15: invalid JSON: `),
      result.stderr,
    );
    assert.equal(readFileSync(broken, 'utf8'), text, 'the file a person wrote is left alone');
  });
}

test('a forked child inherits the preload through NODE_OPTIONS and learns its own read into the same policy', () => {
  assert.equal(learnedFork.code, 0, learnedFork.stderr);
  assert.match(learnedFork.stdout, /^child: read file a$/m);
  const startup = readPolicy(forkPolicy).runtime['@startup'];
  // Only the child reads a.txt: the rule can have come from nowhere else.
  assert.deepEqual(startup.app['fs.read'], [join(data, 'a.txt')]);
  assert.deepEqual(startup.app['child.spawn'], [`${process.execPath} ${forkChild}`]);
});

test('in enforce mode a forked child is refused a read the policy does not grant', async () => {
  const refused = await runForkParent('enforce', join(data, 'b.txt'));
  assert.match(refused.stdout, /^child: refused ERR_LEASH_DENIED$/m);
  assert.match(refused.stdout, /^parent: child exited 3$/m);
  assert.equal(refused.code, 3);
  assert.match(refused.stderr, /"event":"violation".*"mode":"enforce"/);

  const granted = await runForkParent('enforce', join(data, 'a.txt'));
  assert.equal(granted.code, 0, granted.stderr);
  assert.match(granted.stdout, /^child: read file a$/m);
});
