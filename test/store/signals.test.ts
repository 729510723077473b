/**
 * A learning service stopped by a signal saves what it learned. Without handlers of its own it
 * still ends by that signal, as it would without leash; with its own handlers, leash leaves the
 * exit to them.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { allows } from '../../src/core/tree.ts';
import { parsePolicy } from '../../src/store/policy-file.ts';
import { modules, writerFacts } from './fixtures/demo-module.ts';
import { runFixture, tempDir } from './helpers.ts';

function savedCount(file: string): number {
  const tree = parsePolicy(readFileSync(file, 'utf8'), { file, modules }).modules.get('demo')!;
  let n = 0;
  while (allows(tree, writerFacts('s', n)).allowed) n++;
  return n;
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} to a service without its own handler flushes, then the service exits by ${signal}`, async (t) => {
    const file = join(tempDir(t), 'leash.policy.json');
    const service = runFixture('learn-until-signal.ts', [file, 'none']);
    await service.line((l) => l === 'ready');
    service.child.kill(signal);
    assert.deepEqual(await service.exited, { code: null, signal });
    assert.equal(service.stderr(), '');
    assert.equal(savedCount(file), 100);
  });
}

test('SIGTERM to a service with its own handler flushes and leaves the exit to the service', async (t) => {
  const file = join(tempDir(t), 'leash.policy.json');
  const service = runFixture('learn-until-signal.ts', [file, 'own']);
  await service.line((l) => l === 'ready');
  service.child.kill('SIGTERM');
  assert.deepEqual(await service.exited, { code: 0, signal: null });
  assert.ok(service.lines.includes('own handler, policy saved: true'), service.lines.join('\n'));
  assert.equal(service.stderr(), '');
  // r-0 … r-99 by the signal flush, r-100 … r-109 (learned in the service's handler) at exit.
  assert.equal(savedCount(file), 110);
});

test('a flush that fails at a signal is reported on stderr and the service still exits', async (t) => {
  const file = join(tempDir(t), 'leash.policy.json');
  writeFileSync(file, '{ "version": 1, "demo": [');
  const service = runFixture('learn-until-signal.ts', [file, 'none']);
  await service.line((l) => l === 'ready');
  service.child.kill('SIGTERM');
  assert.deepEqual(await service.exited, { code: null, signal: 'SIGTERM' });
  assert.match(
    service.stderr(),
    /^leash: could not save what was learned to .*leash\.policy\.json \(will retry\): .*leash\.policy\.json:1:\d+: invalid JSON: .*\n$/,
  );
});
