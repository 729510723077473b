import assert from 'node:assert/strict';
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runFixture, tempDir } from '../../test/store/helpers.ts';
import { isLeashError } from '../errors.ts';
import { closeLocks, withLock } from './lock.ts';

test('withLock runs the function and returns its value', (t) => {
  const lock = join(tempDir(t), 'p.json.lock');
  assert.equal(
    withLock(lock, () => 42, { timeoutMs: 1000 }),
    42,
  );
});

test('the lock file stays empty and no journal file appears', (t) => {
  const dir = tempDir(t);
  const lock = join(dir, 'p.json.lock');
  for (let i = 0; i < 3; i++) {
    withLock(
      lock,
      () => {
        assert.deepEqual(readdirSync(dir), ['p.json.lock']);
      },
      { timeoutMs: 1000 },
    );
  }
  assert.equal(statSync(lock).size, 0);
  assert.deepEqual(readdirSync(dir), ['p.json.lock']);
});

test('withLock is re-entrant in one thread', (t) => {
  const lock = join(tempDir(t), 'p.json.lock');
  const out = withLock(lock, () => withLock(lock, () => 'inner', { timeoutMs: 100 }), {
    timeoutMs: 100,
  });
  assert.equal(out, 'inner');
});

test('another process waiting past its timeout gets ERR_LEASH_POLICY_IO naming the lock file', async (t) => {
  const lock = join(tempDir(t), 'p.json.lock');
  const holder = runFixture('hold-lock.ts', [lock]);
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.line((l) => l.startsWith('locked'));
  const waiter = runFixture('try-lock.ts', [lock, '200']);
  const line = await waiter.line((l) => l.startsWith('failed') || l.startsWith('acquired'));
  assert.match(line, /^failed ERR_LEASH_POLICY_IO /);
  assert.ok(line.includes(lock), line);
  assert.match(line, /more than 200 ms/);
});

test('this process times out too while another holds the lock', async (t) => {
  const lock = join(tempDir(t), 'p.json.lock');
  const holder = runFixture('hold-lock.ts', [lock]);
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.line((l) => l.startsWith('locked'));
  assert.throws(
    () => withLock(lock, () => assert.fail('ran without the lock'), { timeoutMs: 150 }),
    (e: unknown) => isLeashError(e, 'ERR_LEASH_POLICY_IO') && e.details.file === lock,
  );
});

test('a lock held by a process killed with SIGKILL is released by the kernel', async (t) => {
  const lock = join(tempDir(t), 'p.json.lock');
  const holder = runFixture('hold-lock.ts', [lock]);
  await holder.line((l) => l.startsWith('locked'));
  // The waiter's own limit is far beyond any load: if the dead holder's lock were not released,
  // it would print `failed`; how fast it gets the lock is reported, not asserted.
  const waiter = runFixture('try-lock.ts', [lock, '60000']);
  t.after(() => waiter.child.kill('SIGKILL'));
  await waiter.line((l) => l.startsWith('waiting'));
  await new Promise((r) => setTimeout(r, 100));
  const killedAt = Date.now();
  holder.child.kill('SIGKILL');
  const line = await waiter.line((l) => l.startsWith('acquired') || l.startsWith('failed'));
  assert.match(line, /^acquired \d+$/);
  t.diagnostic(
    `waiter got the lock ${Number(line.split(' ')[1]) - killedAt} ms after the holder was killed`,
  );
});

test('a function that throws releases the lock', async (t) => {
  const lock = join(tempDir(t), 'p.json.lock');
  assert.throws(
    () =>
      withLock(
        lock,
        () => {
          throw new Error('boom');
        },
        { timeoutMs: 100 },
      ),
    /boom/,
  );
  const other = runFixture('try-lock.ts', [lock, '100']);
  assert.match(await other.line((l) => /^(acquired|failed)/.test(l)), /^acquired/);
});

test('a deleted lock file is recreated and still excludes other processes', async (t) => {
  const lock = join(tempDir(t), 'p.json.lock');
  withLock(lock, () => {}, { timeoutMs: 100 });
  rmSync(lock);
  withLock(
    lock,
    () => {
      assert.equal(statSync(lock).size, 0);
    },
    { timeoutMs: 100 },
  );
  const holder = runFixture('hold-lock.ts', [lock]);
  t.after(() => holder.child.kill('SIGKILL'));
  await holder.line((l) => l.startsWith('locked'));
  assert.throws(() => withLock(lock, () => {}, { timeoutMs: 100 }), /more than 100 ms/);
});

test('a lock file that is not one says so', (t) => {
  const lock = join(tempDir(t), 'p.json.lock');
  writeFileSync(
    lock,
    'this is not an sqlite database, just some text that fills a page'.repeat(100),
  );
  closeLocks();
  assert.throws(
    () => withLock(lock, () => {}, { timeoutMs: 100 }),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_POLICY_IO') &&
      /not a leash lock file/.test(e.message) &&
      e.message.includes(lock),
  );
});
