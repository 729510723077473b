import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timelessName } from './context.ts';

test('dates, times and long digit runs in file names become wildcards', () => {
  assert.equal(timelessName('access.log.2026-12-02'), 'access.log.*');
  assert.equal(timelessName('2026-12-02T10_11_12_345Z-debug-0.log'), '*-debug-0.log');
  assert.equal(timelessName('backup-20261202.tgz'), 'backup-*.tgz');
  assert.equal(timelessName('upload-1733400000123.bin'), 'upload-*.bin');
  assert.equal(timelessName('report-[x].2026-01-05.csv'), 'report-\\[x\\].*.csv');
  assert.equal(timelessName('note-42.txt'), undefined, 'short numbers stay');
  assert.equal(timelessName('.env.20261202'), undefined, 'dot files stay exact');
});
