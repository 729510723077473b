import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ViolationRecord } from './store.ts';
import { MAX_VIOLATION_RECORDS, mergeViolations } from './violations-file.ts';

const at = (second: number) => new Date(Date.UTC(2026, 7, 1, 10, 0, second)).toISOString();

function record(path: string, second: number, count = 1): ViolationRecord {
  return {
    module: 'runtime',
    facts: ['GET /files/:name', 'app', 'fs.read', path],
    mode: 'enforce',
    count,
    firstSeen: at(second),
    lastSeen: at(second),
  };
}

test('the file keeps at most MAX_VIOLATION_RECORDS records, dropping those seen least recently', () => {
  assert.equal(MAX_VIOLATION_RECORDS, 1000);
  const probes = Array.from({ length: 1500 }, (_, i) => record(`/probe/${i}`, i % 50));
  const legit = record('/srv/files/new.txt', 55, 3);
  const merged = mergeViolations([legit], probes);
  assert.equal(merged.length, MAX_VIOLATION_RECORDS);
  assert.ok(
    merged.some((r) => r.facts[3] === '/srv/files/new.txt'),
    'the most recent one stays',
  );
  const oldest = Math.min(...merged.map((r) => Date.parse(r.lastSeen)));
  const dropped = probes.filter((p) => !merged.some((r) => r.facts[3] === p.facts[3]));
  assert.equal(dropped.length, 1500 + 1 - MAX_VIOLATION_RECORDS);
  for (const d of dropped) assert.ok(Date.parse(d.lastSeen) <= oldest, 'dropped a newer record');
});

test('below the bound, records merge by key and nothing is dropped', () => {
  const merged = mergeViolations([record('/a', 1)], [record('/a', 5, 2), record('/b', 3)], 2);
  assert.deepEqual(
    merged.map((r) => [r.facts[3], r.count, r.firstSeen, r.lastSeen]),
    [
      ['/a', 3, at(1), at(5)],
      ['/b', 1, at(3), at(3)],
    ],
  );
});
