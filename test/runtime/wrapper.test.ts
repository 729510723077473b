// `leash learn -- <cmd…>` as a process wrapper: exit statuses, a command that cannot run, signals
// passed through to the service, usage errors, and the Node version check of bin/leash.js.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPolicyJson } from '../support/policy-json.ts';
import { killGroup, run, STARTUP_LIMIT_MS, spawnGroup, withinLimit } from '../support/processes.ts';
import { BIN, cleanEnv } from './helpers.ts';

const SIGNAL_SERVICE = fileURLToPath(new URL('./fixtures/signal-service.mjs', import.meta.url));

async function leash(cwd: string, args: readonly string[], node = process.execPath) {
  const result = await run(node, [BIN, ...args], { cwd, env: cleanEnv() });
  return {
    code: result.status,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
  };
}

const workdir = () => mkdtempSync(join(tmpdir(), 'leash-wrapper-'));

test("the wrapped command's exit code is leash's exit code", async () => {
  const dir = workdir();
  for (const code of [0, 7, 42]) {
    const result = await leash(dir, [
      'learn',
      '--',
      process.execPath,
      '-e',
      `process.exit(${code})`,
    ]);
    assert.equal(result.code, code, result.stderr);
  }
});

test('a command that cannot be started gives exit 127 and one line `leash: cannot run …`', async () => {
  const dir = workdir();
  const { code, stdout, stderr } = await leash(dir, [
    'learn',
    '--',
    'leash-no-such-command',
    '--flag',
  ]);
  assert.equal(code, 127);
  assert.equal(stdout, '');
  assert.equal(stderr.trimEnd().split('\n').length, 1, stderr);
  assert.match(stderr, /^leash: cannot run leash-no-such-command: .*ENOENT/);
  assert.equal(existsSync(join(dir, 'leash.policy.json')), false);
});

test('`leash learn` without a command is a usage error: exit 2 and one line', async () => {
  const dir = workdir();
  for (const args of [['learn'], ['learn', '--']]) {
    const { code, stdout, stderr } = await leash(dir, args);
    assert.equal(code, 2, stderr);
    assert.equal(stdout, '');
    assert.equal(stderr, "leash: error: missing required argument 'command'\n");
  }
});

/** Starts `leash learn -- node signal-service.mjs`, waits for `ready`, sends SIGTERM to leash. */
async function terminateUnderLeash(handle: boolean) {
  const dir = workdir();
  const service = join(dir, 'service.mjs');
  copyFileSync(SIGNAL_SERVICE, service);
  const secret = join(dir, 'read-at-start.txt');
  writeFileSync(secret, 'x');
  // No periodic flush during the test: only the signal and exit paths can save what was learned.
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 3_600_000 }));
  const child = spawnGroup(process.execPath, [BIN, 'learn', '--', process.execPath, service], {
    cwd: dir,
    env: cleanEnv({ READS: secret, HANDLE_SIGTERM: handle ? '1' : '' }),
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await withinLimit(
    new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
        if (/^ready$/m.test(stdout)) resolve();
      });
      child.on('exit', () =>
        reject(new Error(`leash exited before the service was ready: ${stderr}`)),
      );
    }),
    STARTUP_LIMIT_MS,
    () => killGroup(child),
    () => `service not ready; killed: ${stderr}`,
  );
  process.kill(child.pid!, 'SIGTERM');
  const [code, signal] = await withinLimit(
    exited,
    STARTUP_LIMIT_MS,
    () => killGroup(child),
    () => `leash did not end after SIGTERM; killed: ${stderr}`,
  );
  killGroup(child);
  const policyFile = join(dir, 'leash.policy.json');
  const policy = existsSync(policyFile) ? readPolicyJson(policyFile, { app: dir }) : undefined;
  return { code, signal, stdout, stderr, policy, secret };
}

test('SIGTERM to leash reaches the service: its own handler runs and exits 0, so leash exits 0', async () => {
  const { code, signal, stdout, stderr, policy, secret } = await terminateUnderLeash(true);
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^service: SIGTERM handled$/m);
  assert.deepEqual(policy?.runtime['@startup'].app['fs.read'], [secret]);
});

test('a service without a handler dies by the forwarded SIGTERM: leash exits 143 and the learned facts were flushed', async () => {
  const { code, signal, stdout, stderr, policy, secret } = await terminateUnderLeash(false);
  assert.equal(signal, null, 'leash reports the signal as an exit code');
  assert.equal(code, 128 + 15, stderr);
  assert.doesNotMatch(stdout, /handled/);
  assert.deepEqual(policy?.runtime['@startup'].app['fs.read'], [secret]);
});

/** A `node` on PATH older than 26 (such as a system Node 20), if there is one. */
function findOldNode(): { path: string; version: string } | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node');
    if (dir === '' || !existsSync(candidate)) continue;
    const probe = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    const version = probe.stdout?.trim() ?? '';
    if (probe.status === 0 && Number(version.split('.')[0]) < 26)
      return { path: candidate, version };
  }
  return undefined;
}

const oldNode = findOldNode();

test('on Node older than 26, bin/leash.js prints one line naming the required and the running version, exit 2', {
  skip: oldNode === undefined ? 'no Node.js older than 26 on PATH' : false,
}, async () => {
  const { path, version } = oldNode!;
  const dir = workdir();
  for (const args of [['--version'], ['learn', '--', path, '-e', '0']]) {
    const result = await leash(dir, args, path);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, `leash: needs Node.js 26 or newer; this is Node.js ${version}\n`);
  }
});
