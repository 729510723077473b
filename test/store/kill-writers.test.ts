/**
 * Writers killed with SIGKILL at random moments (while learning, waiting for the lock, writing the
 * temporary file or renaming it) never leave a broken policy, never lose what another writer
 * saved, and never block the others with a stale lock.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { allows, type PolicyTree } from '../../src/core/tree.ts';
import { removeStaleTemps, tempPattern } from '../../src/store/atomic-write.ts';
import { lockPath } from '../../src/store/file-store.ts';
import { parsePolicy } from '../../src/store/policy-file.ts';
import { modules, writerFacts } from './fixtures/demo-module.ts';
import { type Fixture, runFixture, tempDir } from './helpers.ts';

const ROUNDS = 50;

/** mulberry32: the same kill moments on every run, a different sequence per round. */
function seeded(seed: number): () => number {
  let a = (seed + 0x9e3779b9) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const PARALLEL = 5;
const WRITERS_PER_ROUND = 3;

interface RoundResult {
  readonly kills: number;
  readonly flushes: number;
  readonly temps: number;
}

function flushedCount(w: Fixture): number {
  let n = 0;
  for (const l of w.lines) if (l.startsWith('flushed ')) n = Math.max(n, Number(l.slice(8)));
  return n;
}

function assertSaved(tree: PolicyTree | undefined, id: string, count: number, what: string): void {
  for (let n = 0; n < count; n++) {
    assert.ok(
      tree !== undefined && allows(tree, writerFacts(id, n)).allowed,
      `${what}: fact ${n} of ${id} lost`,
    );
  }
}

async function round(dir: string, r: number): Promise<RoundResult> {
  const file = join(dir, `round-${r}.policy.json`);
  const ids = Array.from({ length: WRITERS_PER_ROUND }, (_, i) => `r${r}w${i}`);
  const random = seeded(r);
  // Each writer learns for longer than the latest kill comes, counted from its start-up (which
  // only adds to its life): every victim is still running when its kill comes.
  const writers = ids.map((id) =>
    runFixture('writer.ts', [file, id, String(400 + random() * 250), '5']),
  );
  // Kill one or two writers at a random moment of their life (start-up included).
  const victims = new Set([Math.floor(random() * writers.length)]);
  if (random() < 0.5) victims.add(Math.floor(random() * writers.length));
  for (const v of victims) {
    setTimeout(() => writers[v]!.child.kill('SIGKILL'), 60 + random() * 300);
  }
  const results = await Promise.all(writers.map((w) => w.exited));
  const killedPids = new Set<number>();
  results.forEach((res, i) => {
    if (res.signal === 'SIGKILL') killedPids.add(writers[i]!.child.pid!);
    else assert.deepEqual(res, { code: 0, signal: null }, writers[i]!.stderr());
  });

  const text = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  const tree =
    text === undefined ? undefined : parsePolicy(text, { file, modules }).modules.get('demo');
  let flushes = 0;
  writers.forEach((w, i) => {
    const reported = flushedCount(w);
    flushes += w.lines.filter((l) => l.startsWith('flushed ')).length;
    assertSaved(tree, ids[i]!, reported, `round ${r}`);
    if (!killedPids.has(w.child.pid!)) {
      const done = Number(w.lines.find((l) => l.startsWith('done '))?.slice(5));
      assert.equal(reported, done, `round ${r}: ${ids[i]} exited normally but did not save all`);
    }
  });

  // Temporary files left behind can only be those of killed writers, and the next cleanup
  // removes them.
  const pattern = tempPattern(`round-${r}.policy.json`);
  const mine = readdirSync(dir).filter(
    (n) => n.startsWith(`.round-${r}.`) || n.startsWith(`round-${r}.`),
  );
  for (const name of mine) {
    if (name.endsWith('.tmp')) {
      const pid = Number(pattern.exec(name)?.[1]);
      assert.ok(killedPids.has(pid), `round ${r}: ${name} does not belong to a killed writer`);
    } else {
      assert.ok([`round-${r}.policy.json`, `round-${r}.policy.json.lock`].includes(name), name);
    }
  }
  const removed = removeStaleTemps(file);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.endsWith('.tmp') && pattern.test(n)),
    [],
  );
  return { kills: killedPids.size, flushes, temps: removed.length };
}

test(`${ROUNDS} rounds of writers killed with SIGKILL at random moments`, async (t) => {
  const dir = tempDir(t);
  let kills = 0;
  let flushes = 0;
  let temps = 0;
  for (let start = 0; start < ROUNDS; start += PARALLEL) {
    const batch = Array.from({ length: Math.min(PARALLEL, ROUNDS - start) }, (_, k) =>
      round(dir, start + k),
    );
    for (const res of await Promise.all(batch)) {
      kills += res.kills;
      flushes += res.flushes;
      temps += res.temps;
    }
  }
  t.diagnostic(
    `${ROUNDS} rounds, ${kills} writers killed, ${flushes} completed flushes checked, ${temps} temporary files of killed writers removed`,
  );
  assert.ok(kills >= ROUNDS, 'every round killed at least one writer');
});

test('a writer killed while it holds the lock does not block the others', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'leash.policy.json');
  const holder = runFixture('writer.ts', [file, 'holder', '100000', '5', 'hold']);
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.line((l) => l === 'holding');
  const other = runFixture('writer.ts', [file, 'other', '300', '5']);
  // Its first flush waits for the lock; it has started once it learned something.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(flushedCount(other), 0, 'the other writer flushed while the lock was held');
  const killedAt = Date.now();
  holder.child.kill('SIGKILL');
  // The kernel drops a dead holder's lock at once. Had it not, the other writer's flushes would
  // fail (after its lock timeout) instead of printing `flushed`, and the line would never come;
  // how long it took is reported, not asserted.
  await other.line((l) => l.startsWith('flushed '));
  t.diagnostic(
    `the waiting writer flushed ${Date.now() - killedAt} ms after the lock holder was killed`,
  );
  assert.deepEqual(await other.exited, { code: 0, signal: null });
  const policy = parsePolicy(readFileSync(file, 'utf8'), { file, modules });
  assertSaved(policy.modules.get('demo'), 'other', flushedCount(other), 'after the kill');
  assert.ok(existsSync(lockPath(file)));
});

test('a process killed while replacing the file leaves it whole, and its temporary file is removed', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'big.json');
  const megabytes = 32;
  let leftovers = 0;
  for (let i = 0; i < 5; i++) {
    writeFileSync(file, 'old\n');
    const w = runFixture('big-write.ts', [file, String(megabytes)]);
    await w.line((l) => l === 'writing');
    await new Promise((r) => setTimeout(r, i * 5));
    w.child.kill('SIGKILL');
    await w.exited;
    const size = statSync(file).size;
    assert.ok(size === 4 || size === megabytes * 1024 * 1024 + 1, `a torn file of ${size} bytes`);
    const temps = readdirSync(dir).filter((n) => n.endsWith('.tmp'));
    for (const name of temps)
      assert.equal(tempPattern('big.json').exec(name)?.[1], String(w.child.pid));
    leftovers += removeStaleTemps(file).length;
    assert.deepEqual(readdirSync(dir), ['big.json']);
  }
  t.diagnostic(`${leftovers} of 5 killed writers left a temporary file`);
  assert.ok(leftovers > 0, 'no kill landed while writing');
});
