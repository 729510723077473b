/**
 * Several processes learn into one policy file at once, flushing every few milliseconds: nothing
 * any of them saved may be lost, and everything they learned is in the file once they exit.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { allows } from '../../src/core/tree.ts';
import { parsePolicy } from '../../src/store/policy-file.ts';
import { modules, writerFacts } from './fixtures/demo-module.ts';
import { runFixture, tempDir } from './helpers.ts';

const WRITERS = 6;

test(`${WRITERS} writers flushing every 10 ms lose nothing`, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'leash.policy.json');
  const writers = Array.from({ length: WRITERS }, (_, i) =>
    runFixture('writer.ts', [file, `w${i}`, '1500', '10']),
  );
  const results = await Promise.all(writers.map((w) => w.exited));
  const policy = parsePolicy(readFileSync(file, 'utf8'), { file, modules });
  const tree = policy.modules.get('demo')!;
  let flushes = 0;
  let facts = 0;
  writers.forEach((w, i) => {
    assert.deepEqual(results[i], { code: 0, signal: null }, w.stderr());
    assert.equal(w.stderr(), '');
    const flushed = w.lines.filter((l) => l.startsWith('flushed ')).map((l) => Number(l.slice(8)));
    const done = Number(w.lines.find((l) => l.startsWith('done '))?.slice(5));
    assert.ok(flushed.length > 5, `writer ${i} flushed ${flushed.length} times`);
    assert.equal(flushed.at(-1), done, 'the exit flush saved everything learned');
    flushes += flushed.length;
    facts += done;
    for (let n = 0; n < done; n++) {
      const f = writerFacts(`w${i}`, n);
      assert.ok(allows(tree, f).allowed, `writer ${i} fact ${n} is missing`);
    }
  });
  t.diagnostic(`${WRITERS} writers, ${flushes} flushes, ${facts} facts`);
  assert.deepEqual(readdirSync(dir).sort(), ['leash.policy.json', 'leash.policy.json.lock']);
});
