import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../test/store/helpers.ts';
import { isLeashError } from '../errors.ts';
import { removeStaleTemps, tempPattern, writeFileAtomicSync } from './atomic-write.ts';

/** The pid of a process that has ended. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

test('writes a new file and leaves no temporary file', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'p.json');
  writeFileAtomicSync(file, 'one\n');
  assert.equal(readFileSync(file, 'utf8'), 'one\n');
  writeFileAtomicSync(file, 'two\n');
  assert.equal(readFileSync(file, 'utf8'), 'two\n');
  assert.deepEqual(readdirSync(dir), ['p.json']);
});

test('keeps the permissions of the file it replaces', (t) => {
  const file = join(tempDir(t), 'p.json');
  writeFileSync(file, 'old');
  chmodSync(file, 0o640);
  writeFileAtomicSync(file, 'new');
  assert.equal(statSync(file).mode & 0o777, 0o640);
});

test('replaces the target of a symbolic link, not the link', (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'real'));
  writeFileSync(join(dir, 'real', 'p.json'), 'old');
  symlinkSync(join(dir, 'real', 'p.json'), join(dir, 'p.json'));
  writeFileAtomicSync(join(dir, 'p.json'), 'new');
  assert.ok(lstatSync(join(dir, 'p.json')).isSymbolicLink());
  assert.equal(readFileSync(join(dir, 'real', 'p.json'), 'utf8'), 'new');
});

test('a missing directory is ERR_LEASH_POLICY_IO with the reason', (t) => {
  const file = join(tempDir(t), 'nope', 'p.json');
  assert.throws(
    () => writeFileAtomicSync(file, 'x'),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_POLICY_IO') &&
      e.message.startsWith(`cannot write ${file}: ENOENT`) &&
      e.details.file === file,
  );
});

test('a failed rename removes the temporary file', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'p.json');
  mkdirSync(join(file, 'inside'), { recursive: true }); // the target is a non-empty directory
  assert.throws(
    () => writeFileAtomicSync(file, 'x'),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_POLICY_IO') && /cannot write .*p\.json: E/.test(e.message),
  );
  assert.deepEqual(readdirSync(dir), ['p.json']);
});

test('removeStaleTemps removes temporary files of ended processes only', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'p.json');
  const dead = deadPid();
  const names = {
    dead: `.p.json.${dead}.a1b2c3.tmp`,
    mine: `.p.json.${process.pid}.a1b2c3.tmp`,
    alive: `.p.json.${process.ppid}.a1b2c3.tmp`,
    other: `.q.json.${dead}.a1b2c3.tmp`,
    unrelated: 'p.json.tmp',
  };
  for (const name of Object.values(names)) writeFileSync(join(dir, name), '{');
  const removed = removeStaleTemps(file);
  assert.deepEqual(removed, [join(dir, names.dead)]);
  assert.deepEqual(
    readdirSync(dir).sort(),
    [names.alive, names.mine, names.other, names.unrelated].sort(),
  );
});

test('removeStaleTemps in a missing directory does nothing', (t) => {
  assert.deepEqual(removeStaleTemps(join(tempDir(t), 'nope', 'p.json')), []);
});

test('tempPattern escapes the base name', () => {
  const pattern = tempPattern('a+b.json');
  assert.equal(pattern.exec('.a+b.json.12.ff.tmp')?.[1], '12');
  assert.equal(pattern.exec('.aab.json.12.ff.tmp'), null);
});
