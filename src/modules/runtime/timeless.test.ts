import assert from 'node:assert/strict';
import { test } from 'node:test';
import { temporaryGlob, timelessName } from './context.ts';

test('dates, times and long digit runs in file names become wildcards', () => {
  assert.equal(timelessName('access.log.2026-12-02'), 'access.log.*');
  assert.equal(timelessName('2026-12-02T10_11_12_345Z-debug-0.log'), '*-debug-0.log');
  assert.equal(timelessName('backup-20261202.tgz'), 'backup-*.tgz');
  assert.equal(timelessName('upload-1733400000123.bin'), 'upload-*.bin');
  assert.equal(timelessName('report-[x].2026-01-05.csv'), 'report-\\[x\\].*.csv');
  assert.equal(timelessName('note-42.txt'), undefined, 'short numbers stay');
  assert.equal(timelessName('.env.20261202'), undefined, 'dot files stay exact');
});

test('a directory mkdtemp made in the temp directory is learned with its random part as a wildcard', () => {
  assert.equal(
    temporaryGlob('/tmp/notes-test-Ab3xYz/notes.db', '/tmp'),
    '/tmp/notes-test-*/notes.db',
  );
  assert.equal(temporaryGlob('/tmp/leash-ci-CZGSC1', '/tmp'), '/tmp/leash-ci-*');
  assert.equal(temporaryGlob('/tmp/x_a1b2c3/u/f.txt', '/tmp'), '/tmp/x_*/u/f.txt');
  // Not mkdtemp's: no separator before six characters, one case and no digit, or not in tmp.
  assert.equal(temporaryGlob('/tmp/cache-backup/f', '/tmp'), undefined);
  assert.equal(temporaryGlob('/tmp/abc123/f', '/tmp'), undefined);
  assert.equal(temporaryGlob('/srv/notes-test-Ab3xYz/f', '/tmp'), undefined);
  assert.equal(temporaryGlob('/tmp/notes-test-Ab3xY/f', '/tmp'), undefined);
  // Glob characters in the rest are escaped.
  assert.equal(temporaryGlob('/tmp/t-Ab3xYz/a*b', '/tmp'), '/tmp/t-*/a\\*b');
});
