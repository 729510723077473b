// A worker's private port taken by another process between leash's choice and the worker's bind
// (under load, a server starting elsewhere on the machine): the worker is started again on another
// port, under its own kernel rules for that port, and the service answers; when every port it is
// given is taken, leash stops with a message that names the last one. The test takes the ports
// itself: the service waits for SIGUSR2 before it listens, and the test reads the port leash gave
// the waiting process from its environment, listens there, and only then signals it.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../examples/service/start.ts';
import { ephemeralRange } from '../../src/isolate/ports.ts';
import { WORKER_PORT_ENV } from '../../src/isolate/worker/install.ts';
import { MAX_PORT_MOVES } from '../../src/isolate/worker-pool.ts';
import { BIN, cleanEnv, startUnder } from '../runtime/helpers.ts';
import { killGroup, STARTUP_LIMIT_MS, spawnGroup, withinLimit } from '../support/processes.ts';

const SERVICE = fileURLToPath(new URL('../fixtures/isolate/signal-service.mjs', import.meta.url));

let work: string;
let port: number;

before(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), 'leash-worker-ports-')));
  port = await freePort();
  const learning = await startUnder(
    ['learn', '--policy', join(work, 'leash.policy.json'), '--', process.execPath, SERVICE],
    { cwd: work, env: { PORT: String(port) } },
  );
  try {
    assert.equal((await fetch(new URL('/', learning.base))).status, 200);
  } finally {
    await learning.stop();
  }
});

after(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** The port leash gave a worker process, from the environment it started with. */
function portOf(pid: number): number {
  const env = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0');
  const entry = env.find((e) => e.startsWith(`${WORKER_PORT_ENV}=`));
  assert.ok(entry !== undefined, `process ${pid} has no ${WORKER_PORT_ENV}`);
  return Number(entry.slice(WORKER_PORT_ENV.length + 1));
}

async function hold(at: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  server.listen(at, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

interface Waited {
  readonly pid: number;
  readonly port: number;
  readonly taken: boolean;
}

/**
 * Starts the service under `leash enforce --isolate` (every layer this machine has); each process
 * that waits to listen is let go, after the test has taken its port when `take(i)` says so for
 * the i-th (from 0) waiting process. Settles with the front door's URL, or with leash's exit.
 */
function isolated(take: (i: number) => boolean) {
  const child = spawnGroup(
    process.execPath,
    [BIN, 'enforce', '--isolate', '--policy', join(work, 'leash.policy.json'), '--'].concat(
      process.execPath,
      SERVICE,
    ),
    { cwd: work, env: cleanEnv({ PORT: String(port), LISTEN_ON_SIGNAL: '1' }) },
  );
  let err = '';
  let out = '';
  const waited: Waited[] = [];
  const held: net.Server[] = [];
  const problems: unknown[] = [];
  const letGo = async (pid: number) => {
    const i = waited.length;
    const at = portOf(pid);
    const taken = take(i);
    waited.push({ pid, port: at, taken });
    if (taken) held.push(await hold(at));
    process.kill(pid, 'SIGUSR2');
  };
  // One waiting process at a time, in the order they said so.
  let letting = Promise.resolve();
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    const seen = err.split('\n').length - 1;
    err += chunk;
    const lines = err.split('\n').slice(seen, -1);
    for (const line of lines) {
      const m = /waiting to listen: pid (\d+)/.exec(line);
      if (m !== null)
        letting = letting.then(() => letGo(Number(m[1]))).catch((e) => void problems.push(e));
    }
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const outcome = new Promise<{ base?: string; code?: number | null }>((resolve) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on (https?:\/\/\S+)/.exec(out);
      if (m !== null) resolve({ base: m[1]! });
    });
    void exited.then(([code]) => resolve({ code }));
  });
  return {
    waited,
    /** What went wrong in letting a process go (none expected). */
    problems,
    stderr: () => err,
    outcome: withinLimit(
      outcome,
      STARTUP_LIMIT_MS,
      () => killGroup(child),
      () => `leash neither listened nor ended; killed: ${err}`,
    ),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await withinLimit(
          exited,
          STARTUP_LIMIT_MS,
          () => killGroup(child),
          () => `leash did not stop after SIGTERM; killed: ${err}`,
        ).catch(() => undefined);
      }
      killGroup(child);
      await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

function outsideEphemeral(at: number): void {
  const range = ephemeralRange();
  if (range !== undefined && range.low > 10_000)
    assert.ok(at < range.low || at > range.high, `${at} lies in ${range.low}-${range.high}`);
}

test('a worker whose port another process took is started on another port, and answers', async () => {
  // The start-up process waits first; once it has listened and been stopped, the route worker.
  // Both find their first port taken.
  const service = isolated((i) => i === 0 || i === 2);
  try {
    const { base } = await service.outcome;
    assert.ok(base !== undefined, service.stderr());
    const response = await fetch(new URL('/', base));
    assert.equal(response.status, 200);
    const answer = await response.text();
    assert.match(answer, /^answered by \d+$/);

    assert.deepEqual(service.problems, []);
    const [startup, startupMoved, worker, workerMoved, ...more] = service.waited;
    assert.equal(more.length, 0, service.stderr());
    assert.ok(startup?.taken && worker?.taken);
    assert.ok(startupMoved !== undefined && workerMoved !== undefined);
    for (const [before, moved] of [
      [startup, startupMoved],
      [worker, workerMoved],
    ] as const) {
      assert.notEqual(moved.port, before.port);
      outsideEphemeral(before.port);
      outsideEphemeral(moved.port);
      assert.match(
        service.stderr(),
        new RegExp(
          `worker \\S+: port ${before.port} was taken by another process before it listened; starting it on port ${moved.port}`,
        ),
      );
    }
    // The moved route worker answered, on its new port.
    assert.equal(answer, `answered by ${workerMoved.pid}`);
  } finally {
    await service.stop();
  }
});

test('when every port a worker is given is taken, leash stops and names the last', async () => {
  const service = isolated(() => true);
  try {
    const { base, code } = await service.outcome;
    assert.equal(base, undefined, 'leash listened');
    assert.notEqual(code, 0);
    assert.deepEqual(service.problems, []);
    // The first port and MAX_PORT_MOVES more, each taken.
    assert.equal(service.waited.length, 1 + MAX_PORT_MOVES, service.stderr());
    const last = service.waited.at(-1)!;
    assert.match(
      service.stderr(),
      new RegExp(
        `the start-up process could not listen on its port ${last.port}: another process holds it \\(the ${MAX_PORT_MOVES} ports it was given before were taken too\\)`,
      ),
    );
  } finally {
    await service.stop();
  }
});
