// The launcher's thin waiter (native/leash-sandbox.c --wait): `leash report|enforce|learn`
// becomes it once the service's start is prepared. The same pid waits, with a few MiB of memory;
// signals reach the service; exit statuses pass through; violations go through the spool beside
// the policy into leash.violations.json, visible to `leash policy review` while the service runs;
// what the service writes into the pipe is validated; and LEASH_NODE_WAIT=1 keeps the Node path.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findWaiter } from '../../src/supervisor/waiter.ts';
import {
  groupAlive,
  killGroup,
  RUN_LIMIT_MS,
  run,
  SINGLE_PROCESS_LIMIT,
  STARTUP_LIMIT_MS,
  spawnGroup,
  withinLimit,
} from '../support/processes.ts';
import { BIN, cleanEnv } from './helpers.ts';

const SERVICE = fileURLToPath(new URL('./fixtures/waiter-service.mjs', import.meta.url));
const LOCK_MODULE = fileURLToPath(new URL('../../src/store/lock.ts', import.meta.url));
const waiter = findWaiter({ ...process.env, LEASH_NODE_WAIT: '' });
const noWaiter = waiter.ok ? false : `no launcher here: ${waiter.reason}`;

interface Space {
  readonly dir: string;
  readonly secret: string;
  readonly policyFile: string;
  readonly violationsFile: string;
  readonly spool: string;
}

/** A directory with an empty policy and a config that flushes often, and a file to read. */
function space(): Space {
  const dir = mkdtempSync(join(tmpdir(), 'leash-waiter-'));
  const secret = join(dir, 'secret.txt');
  writeFileSync(secret, 'x');
  writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ flushIntervalMs: 100 }));
  writeFileSync(join(dir, 'leash.policy.json'), '{ "version": 1 }\n');
  return {
    dir,
    secret,
    policyFile: join(dir, 'leash.policy.json'),
    violationsFile: join(dir, 'leash.violations.json'),
    spool: join(dir, 'leash.violations.spool'),
  };
}

interface Started {
  readonly child: ReturnType<typeof spawnGroup>;
  readonly servicePid: number;
  readonly serviceParent: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** Starts `leash <mode> -- node waiter-service.mjs` and waits for its `ready` line. */
async function start(s: Space, mode: string, env: NodeJS.ProcessEnv = {}): Promise<Started> {
  const child = spawnGroup(process.execPath, [BIN, mode, '--', process.execPath, SERVICE], {
    cwd: s.dir,
    env: cleanEnv({ READS: s.secret, ...env }),
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ready = await withinLimit(
    new Promise<RegExpExecArray>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const match = /^ready (\d+) (\d+)$/m.exec(stdout);
        if (match) resolve(match);
      });
      child.on('exit', () =>
        reject(new Error(`leash exited before the service was ready: ${stderr}`)),
      );
    }),
    STARTUP_LIMIT_MS,
    () => killGroup(child),
    () => `service not ready; killed: ${stderr}`,
  );
  return {
    child,
    servicePid: Number(ready[1]),
    serviceParent: Number(ready[2]),
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
  };
}

/** Sends `signal` to the leash process only, and waits for it to end (the group is killed after). */
async function stop(started: Started, signal: NodeJS.Signals = 'SIGTERM') {
  const { child } = started;
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  const [code, sig] =
    child.exitCode !== null || child.signalCode !== null
      ? [child.exitCode, child.signalCode]
      : await withinLimit(
          started.exited,
          RUN_LIMIT_MS,
          () => killGroup(child),
          () => `leash did not end after ${signal}; killed: ${started.stderr()}`,
        );
  if (groupAlive(child)) killGroup(child);
  return { code, signal: sig };
}

/** Resolves once `predicate` holds, checking every 50 ms; rejects at the limit. */
function until(predicate: () => boolean, what: string): Promise<void> {
  return withinLimit(
    new Promise<void>((resolve) => {
      const check = () => (predicate() ? resolve() : setTimeout(check, 50).unref());
      check();
    }),
    RUN_LIMIT_MS,
    () => {},
    () => `waited for ${what}`,
  );
}

function statusField(pid: number, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
    readFileSync(`/proc/${pid}/status`, 'utf8'),
  );
  assert.ok(match, `${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

const recorded = (s: Space): Array<{ facts: string[]; mode: string; count: number }> =>
  existsSync(s.violationsFile) ? JSON.parse(readFileSync(s.violationsFile, 'utf8')).violations : [];

const MiB = 2 ** 20;

test('leash report becomes the waiter: the same pid, the service its child, under 40 MiB resident while it runs', {
  skip: noWaiter,
}, async () => {
  const s = space();
  const started = await start(s, 'report');
  try {
    const pid = started.child.pid!;
    assert.equal(
      started.serviceParent,
      pid,
      'the service is the child of the process leash started as',
    );
    const words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.equal(words[1], '--wait', words.join(' '));
    const rss = statusField(pid, 'VmRSS');
    assert.ok(rss < 40 * MiB, `leash holds ${(rss / MiB).toFixed(1)} MiB while the service runs`);
    // A new program has a new memory map: the Node CLI's peak is not the waiter's.
    assert.ok(statusField(pid, 'VmHWM') < 40 * MiB);
  } finally {
    const { code } = await stop(started);
    assert.equal(code, 128 + 15, started.stderr());
  }
});

test('SIGTERM to the waiter reaches the service: its handler runs and its exit code is leash’s', {
  skip: noWaiter,
}, async () => {
  const s = space();
  const started = await start(s, 'report', { HANDLE_SIGTERM: '1' });
  const { code, signal } = await stop(started);
  assert.equal(signal, null);
  assert.equal(code, 7, started.stderr());
  assert.match(started.stdout(), /^service: SIGTERM handled$/m);
});

test('a service that dies by a signal gives 128 + n; an exit code passes through', {
  skip: noWaiter,
}, async () => {
  const s = space();
  const killed = await start(s, 'report');
  process.kill(killed.servicePid, 'SIGKILL');
  const [code] = await withinLimit(
    killed.exited,
    RUN_LIMIT_MS,
    () => killGroup(killed.child),
    () => `leash did not end after its service was killed: ${killed.stderr()}`,
  );
  killGroup(killed.child);
  assert.equal(code, 128 + 9, killed.stderr());
  const exiting = await run(process.execPath, [BIN, 'report', '--', process.execPath, SERVICE], {
    cwd: s.dir,
    env: cleanEnv({ READS: s.secret, EXIT_CODE: '42' }),
  });
  assert.equal(exiting.status, 42, exiting.stderr);
});

test('violations are visible to `leash policy review` while the service runs, and in leash.violations.json after', {
  skip: noWaiter,
}, async () => {
  const s = space();
  const started = await start(s, 'report');
  try {
    await until(
      () => existsSync(s.spool) && readFileSync(s.spool, 'utf8').includes(s.secret),
      'the spool to hold the violation',
    );
    const review = spawnSync(process.execPath, [BIN, 'policy', 'review'], {
      cwd: s.dir,
      env: cleanEnv(),
      encoding: 'utf8',
      ...SINGLE_PROCESS_LIMIT,
    });
    assert.equal(review.status, 0, review.stderr);
    assert.ok(review.stdout.includes(`fs.read › ${s.secret}`), review.stdout);
  } finally {
    await stop(started);
  }
  const read = recorded(s).find((v) => v.facts.at(-1) === s.secret);
  assert.equal(read?.mode, 'report', JSON.stringify(recorded(s)));
  assert.equal(read?.count, 1);
  assert.equal(existsSync(s.spool), false, 'the spool is removed once merged');
});

test('a line on the pipe that is not a violations document is dropped with a warning; the good lines are kept', {
  skip: noWaiter,
}, async () => {
  const s = space();
  const good = join(s.dir, 'written-into-the-pipe');
  const result = await run(process.execPath, [BIN, 'report', '--', process.execPath, SERVICE], {
    cwd: s.dir,
    env: cleanEnv({ READS: s.secret, WRITE_BAD_LINE: '1', GOOD_RESOURCE: good, EXIT_CODE: '0' }),
  });
  assert.equal(result.status, 0, result.stderr);
  const warnings = result.stderr
    .split('\n')
    .filter((l) => l.includes('dropped a violations record'));
  assert.equal(warnings.length, 1, result.stderr);
  assert.match(
    warnings[0]!,
    /^leash: dropped a violations record from the service: .*leash\.violations\.spool:\d+:\d+: /,
  );
  const facts = recorded(s).map((v) => v.facts.at(-1));
  assert.ok(facts.includes(good), JSON.stringify(facts));
  assert.ok(facts.includes(s.secret), JSON.stringify(facts));
  assert.equal(existsSync(s.spool), false);
});

test('a child of the service holding the pipe open does not keep leash waiting', {
  skip: noWaiter,
}, async () => {
  const s = space();
  // `sleep 600` keeps the pipe open after the service exits; run() kills it with leash's group.
  const result = await run(process.execPath, [BIN, 'report', '--', process.execPath, SERVICE], {
    cwd: s.dir,
    env: cleanEnv({ READS: s.secret, HOLD_PIPE: '1', EXIT_CODE: '5' }),
  });
  assert.equal(result.status, 5, result.stderr);
  assert.ok(recorded(s).some((v) => v.facts.at(-1) === s.secret));
});

test('a spool a killed run left behind is merged by the next run, which records nothing itself', {
  skip: noWaiter,
}, async () => {
  const s = space();
  const now = new Date().toISOString();
  const left = join(s.dir, 'left-behind');
  const line = {
    version: 1,
    violations: [
      {
        module: 'runtime',
        facts: ['@startup', 'app', 'fs.read', left],
        mode: 'enforce',
        count: 2,
        firstSeen: now,
        lastSeen: now,
      },
    ],
  };
  writeFileSync(s.spool, `${JSON.stringify(line)}\n`);
  const result = await run(process.execPath, [BIN, 'report', '--', process.execPath, '-e', '0'], {
    cwd: s.dir,
    env: cleanEnv(),
  });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(recorded(s).find((v) => v.facts.at(-1) === left)?.count, 2);
  assert.equal(existsSync(s.spool), false);
});

test('the waiter appends to the spool only while nobody holds the policy lock', {
  skip: noWaiter,
}, async () => {
  const s = space();
  const lock = `${s.policyFile}.lock`;
  // Another leash process holding the lock (an SQLite transaction, as every leash writer takes it).
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { readSync } from 'node:fs';
       import { withLock } from ${JSON.stringify(LOCK_MODULE)};
       withLock(${JSON.stringify(lock)}, () => {
         process.stdout.write('locked\\n');
         readSync(0, Buffer.alloc(1));
       }, { timeoutMs: 60000 });`,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const launcher = waiter.ok ? waiter.path : '';
  let appender: ReturnType<typeof spawnGroup> | undefined;
  try {
    let said = '';
    await withinLimit(
      new Promise<void>((resolve) =>
        holder.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          said += chunk;
          if (said.includes('locked')) resolve();
        }),
      ),
      STARTUP_LIMIT_MS,
      () => holder.kill('SIGKILL'),
      () => 'the lock holder did not start',
    );
    appender = spawnGroup(
      launcher,
      ['--wait', '-p', s.spool, '-l', lock, '--', 'sh', '-c', 'echo record >&3; echo wrote'],
      { cwd: s.dir },
    );
    let out = '';
    await withinLimit(
      new Promise<void>((resolve) =>
        appender!.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          if (out.includes('wrote')) resolve();
        }),
      ),
      STARTUP_LIMIT_MS,
      () => killGroup(appender!),
      () => 'the waiter did not run its command',
    );
    const appended = once(appender, 'exit');
    // The service has written and ended; the waiter retries the lock meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(existsSync(s.spool), false, 'appended while another process held the lock');
    holder.stdin!.end('x');
    const [code] = await withinLimit(
      appended,
      RUN_LIMIT_MS,
      () => killGroup(appender!),
      () => 'the waiter did not end',
    );
    assert.equal(code, 0);
    assert.equal(readFileSync(s.spool, 'utf8'), 'record\n');
  } finally {
    holder.kill('SIGKILL');
    if (appender !== undefined) killGroup(appender);
  }
});

test('learn without a terminal waits in the launcher too and ends with the summary, counting what this run added', {
  skip: noWaiter,
}, async () => {
  const s = space();
  const temporary = mkdtempSync(join(tmpdir(), 'leash-waiter-tmp-'));
  const learn = (reads: string, code: string) =>
    run(process.execPath, [BIN, 'learn', '--', process.execPath, SERVICE], {
      cwd: s.dir,
      env: cleanEnv({ READS: reads, EXIT_CODE: code, TMPDIR: temporary }),
    });
  const first = await learn(s.secret, '0');
  assert.equal(first.status, 0, first.stderr);
  assert.match(
    first.stderr,
    /^leash learn: leash\.policy\.json holds \d+ rules?, \d+ new in this run$/m,
  );
  const other = join(s.dir, 'other.txt');
  writeFileSync(other, 'y');
  const second = await learn(other, '3');
  assert.equal(second.status, 3, second.stderr);
  assert.match(
    second.stderr,
    /^leash learn: leash\.policy\.json holds \d+ rules?, 1 new in this run$/m,
  );
  // The copy of the policy the summary compares with is gone.
  assert.deepEqual(readdirSync(temporary), []);
});

test('LEASH_NODE_WAIT=1 keeps the Node process waiting; violations still arrive, a left spool is merged', async () => {
  const s = space();
  const now = new Date().toISOString();
  const left = join(s.dir, 'left-behind');
  writeFileSync(
    s.spool,
    `${JSON.stringify({
      version: 1,
      violations: [
        {
          module: 'runtime',
          facts: ['@startup', 'app', 'fs.read', left],
          mode: 'report',
          count: 1,
          firstSeen: now,
          lastSeen: now,
        },
      ],
    })}\n`,
  );
  const started = await start(s, 'report', { LEASH_NODE_WAIT: '1' });
  let code: number | null;
  try {
    const pid = started.child.pid!;
    assert.equal(started.serviceParent, pid);
    const words = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    assert.ok(words.includes(BIN), words.join(' '));
  } finally {
    ({ code } = await stop(started));
  }
  assert.equal(code, 128 + 15, started.stderr());
  const facts = recorded(s).map((v) => v.facts.at(-1));
  assert.ok(facts.includes(s.secret), JSON.stringify(facts));
  assert.ok(facts.includes(left), JSON.stringify(facts));
  assert.equal(existsSync(s.spool), false);
});
