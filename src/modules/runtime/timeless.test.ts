import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { timelessName } from './context.ts';
import { forgetMkdtempPrefixes, noteMkdtempPrefix, temporaryGlob } from './temp-dirs.ts';

test('dates, times and long digit runs in file names become wildcards', () => {
  assert.equal(timelessName('access.log.2026-12-02'), 'access.log.*');
  assert.equal(timelessName('2026-12-02T10_11_12_345Z-debug-0.log'), '*-debug-0.log');
  assert.equal(timelessName('backup-20261202.tgz'), 'backup-*.tgz');
  assert.equal(timelessName('upload-1733400000123.bin'), 'upload-*.bin');
  assert.equal(timelessName('report-[x].2026-01-05.csv'), 'report-\\[x\\].*.csv');
  assert.equal(timelessName('note-42.txt'), undefined, 'short numbers stay');
  assert.equal(timelessName('.env.20261202'), undefined, 'dot files stay exact');
});

test('a directory this process made with mkdtemp is learned with its random part as a wildcard', () => {
  const tmp = realpathSync(tmpdir());
  forgetMkdtempPrefixes();
  assert.equal(temporaryGlob(`${tmp}/notes-test-Ab3xYz/notes.db`), undefined, 'no mkdtemp yet');
  noteMkdtempPrefix(`${tmp}/notes-test-`);
  noteMkdtempPrefix(`${tmp}/x_`);
  assert.equal(temporaryGlob(`${tmp}/notes-test-Ab3xYz/notes.db`), `${tmp}/notes-test-*/notes.db`);
  assert.equal(temporaryGlob(`${tmp}/notes-test-abcdef`), `${tmp}/notes-test-*`);
  assert.equal(temporaryGlob(`${tmp}/x_a1b2c3/u/f.txt`), `${tmp}/x_*/u/f.txt`);
  // Not what mkdtemp makes of those prefixes: another length, another prefix.
  assert.equal(temporaryGlob(`${tmp}/notes-test-Ab3xY/f`), undefined);
  assert.equal(temporaryGlob(`${tmp}/notes-test-Ab3xYzz/f`), undefined);
  assert.equal(temporaryGlob(`${tmp}/other-Ab3xYz/f`), undefined);
  // Glob characters in the rest are escaped.
  assert.equal(temporaryGlob(`${tmp}/x_Ab3xYz/a*b`), `${tmp}/x_*/a\\*b`);
  forgetMkdtempPrefixes();
});

test('only prefixes in the temp directory count: mkdtemp elsewhere gets no wildcard', () => {
  forgetMkdtempPrefixes();
  noteMkdtempPrefix('/');
  noteMkdtempPrefix('/srv/data/run-');
  assert.equal(temporaryGlob('/abcde1/x'), undefined);
  assert.equal(temporaryGlob('/srv/data/run-Ab3xYz/x'), undefined);
  noteMkdtempPrefix(`${realpathSync(tmpdir())}/`);
  assert.equal(temporaryGlob(`${realpathSync(tmpdir())}/Ab3xYz/x`), undefined);
  forgetMkdtempPrefixes();
});
