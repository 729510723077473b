import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SimplifyOptions } from '../kind.ts';
import { add, allows, createTree, rules, simplify } from '../tree.ts';
import { literalKind } from './literal.ts';
import { pathKind, ROOT_HOME, wildcardAllowedIn } from './path.ts';

const path = pathKind();
const options = (roots: string[], extra: Partial<SimplifyOptions> = {}): SimplifyOptions => ({
  threshold: 3,
  roots,
  homes: [],
  ...extra,
});

/** Simplifies a set of sibling paths and returns the resulting keys. */
function collapse(paths: string[], opts: SimplifyOptions): string[] {
  const t = createTree(literalKind({ name: 'capability', child: () => path }));
  for (const p of paths) add(t, ['fs.read', p]);
  return rules(simplify(t, opts)).map((r) => r[1]!);
}

test('three files sharing an extension in one directory become dir/*.ext', () => {
  assert.deepEqual(
    collapse(['/data/u/1.png', '/data/u/2.png', '/data/u/3.png'], options(['/data'])),
    ['/data/u/*.png'],
  );
});

test('three files with different extensions become dir/*', () => {
  assert.deepEqual(collapse(['/data/u/a.png', '/data/u/b.txt', '/data/u/c'], options(['/data'])), [
    '/data/u/*',
  ]);
});

test('two files stay two rules below the threshold, and a higher threshold waits longer', () => {
  assert.deepEqual(collapse(['/data/u/1.png', '/data/u/2.png'], options(['/data'])), [
    '/data/u/1.png',
    '/data/u/2.png',
  ]);
  const three = ['/data/u/1.png', '/data/u/2.png', '/data/u/3.png'];
  assert.deepEqual(collapse(three, options(['/data'], { threshold: 4 })), three);
});

test('three directories at one position become *', () => {
  assert.deepEqual(
    collapse(
      ['/data/u1/avatar.png', '/data/u2/avatar.png', '/data/u3/avatar.png'],
      options(['/data']),
    ),
    ['/data/*/avatar.png'],
  );
});

test('files at mixed depths below one directory become dir/** (keeping a shared extension)', () => {
  assert.deepEqual(
    collapse(['/srv/app/a.js', '/srv/app/lib/b.js', '/srv/app/lib/x/c.js'], options(['/srv/app'])),
    ['/srv/app/**/*.js'],
  );
  assert.deepEqual(
    collapse(
      ['/srv/app/a.js', '/srv/app/lib/b.json', '/srv/app/lib/x/c.html'],
      options(['/srv/app']),
    ),
    ['/srv/app/**'],
  );
});

test('nothing collapses outside a configured root', () => {
  const files = ['/opt/x/1.png', '/opt/x/2.png', '/opt/x/3.png'];
  assert.deepEqual(collapse(files, options(['/data'])), files);
  assert.deepEqual(collapse(files, options([])), files);
});

test('never a wildcard in /etc, /proc or /sys, even when configured as a root', () => {
  for (const dir of ['/etc', '/etc/ssl', '/proc/self', '/sys/fs']) {
    const files = [`${dir}/a`, `${dir}/b`, `${dir}/c`];
    assert.deepEqual(collapse(files, options([dir, '/etc', '/proc', '/sys'])), files, dir);
  }
});

test('never /, /* or /**, whatever the roots', () => {
  const files = ['/a', '/b', '/c', '/d/e', '/f/g/h'];
  assert.deepEqual(collapse(files, options(['/'])), files);
  assert.equal(wildcardAllowedIn('/', options(['/'])), false);
});

test('never a wildcard above the app: an app checked out in the temp directory keeps it, its data there generalises', () => {
  const opts = options(['/tmp/co/app', '/tmp'], { app: '/tmp/co/app' });
  // Above the app: a pattern would cover its own code.
  for (const dir of ['/tmp', '/tmp/co']) assert.equal(wildcardAllowedIn(dir, opts), false, dir);
  const beside = ['/tmp/a.txt', '/tmp/b.txt', '/tmp/c.txt'];
  assert.deepEqual(collapse(beside, opts), beside);
  const depths = ['/tmp/co/app/x.js', '/tmp/data-1/u/a', '/tmp/data-2/b'];
  assert.deepEqual(collapse(depths, opts), depths);
  // The app's own directory and its data directory elsewhere in the temp directory.
  assert.deepEqual(
    collapse(['/tmp/co/app/v/1.html', '/tmp/co/app/v/2.html', '/tmp/co/app/v/3.html'], opts),
    ['/tmp/co/app/v/*.html'],
  );
  assert.deepEqual(
    collapse(
      ['/tmp/run-Ab3xYz/uploads/ann', '/tmp/run-Ab3xYz/uploads/bob', '/tmp/run-Ab3xYz/uploads/cy'],
      opts,
    ),
    ['/tmp/run-Ab3xYz/uploads/*'],
  );
  // Without an app, the temp directory's entries generalise as before.
  assert.deepEqual(collapse(beside, options(['/tmp'])), ['/tmp/*.txt']);
});

test('never a wildcard in the superuser home or a home directory, but inside a project root within one', () => {
  const home = ['/home/ann/a', '/home/ann/b', '/home/ann/c'];
  assert.deepEqual(collapse(home, options(['/home/ann', '/home'])), home);
  const dotdir = ['/home/ann/.ssh/id_a', '/home/ann/.ssh/id_b', '/home/ann/.ssh/id_c'];
  assert.deepEqual(collapse(dotdir, options(['/home/ann'])), dotdir);
  const root = ['a', 'b', 'c'].map((name) => `${ROOT_HOME}/${name}`);
  assert.deepEqual(collapse(root, options([ROOT_HOME])), root);
  const extraHome = ['/var/lib/svc/a', '/var/lib/svc/b', '/var/lib/svc/c'];
  assert.deepEqual(
    collapse(extraHome, options(['/var/lib/svc'], { homes: ['/var/lib/svc'] })),
    extraHome,
  );
  assert.deepEqual(
    collapse(
      ['/home/ann/proj/data/1.png', '/home/ann/proj/data/2.png', '/home/ann/proj/data/3.png'],
      options(['/home/ann/proj']),
    ),
    ['/home/ann/proj/data/*.png'],
  );
});

test('dot files never fall under a wildcard and stay explicit', () => {
  const out = collapse(
    ['/data/u/1.png', '/data/u/2.png', '/data/u/3.png', '/data/u/.env'],
    options(['/data']),
  );
  assert.deepEqual(out, ['/data/u/*.png', '/data/u/.env']);
  assert.equal(path.matches('/data/u/*', '/data/u/.env'), false);
  assert.equal(path.matches('/data/**', '/data/.git/config'), false);
  assert.equal(path.matches('/data/.*', '/data/.env'), true);
});

test('a file literally named * is stored escaped and never acts as a wildcard', () => {
  assert.equal(path.key('/data/*'), '/data/\\*');
  assert.deepEqual(collapse(['/data/*', '/data/{a,b}'], options(['/data'])), [
    '/data/\\*',
    '/data/\\{a,b\\}',
  ]);
  const t = createTree(literalKind({ name: 'capability', child: () => path }));
  add(t, ['fs.read', '/data/*']);
  assert.equal(allows(t, ['fs.read', '/data/*']).allowed, true);
  assert.equal(allows(t, ['fs.read', '/data/secret']).allowed, false);
});

test('matches: * is one segment, ** any depth, *.ext keeps the extension', () => {
  assert.equal(path.matches('/data/*.png', '/data/a.png'), true);
  assert.equal(path.matches('/data/*.png', '/data/a.jpg'), false);
  assert.equal(path.matches('/data/*.png', '/data/x/a.png'), false);
  assert.equal(path.matches('/data/*', '/data'), false);
  assert.equal(path.matches('/data/**', '/data/x/y/z'), true);
  assert.equal(path.matches('/data/**', '/data'), false);
  assert.equal(path.matches('/data/**/*.png', '/data/a.png'), true);
  assert.equal(path.matches('/data/**/*.png', '/data/x/y/a.png'), true);
  assert.equal(path.matches('/data/u/../../etc/passwd', '/etc/passwd'), false);
});

test('covers compares globs conservatively', () => {
  assert.equal(path.covers('/data/**', '/data/u/*.png'), true);
  assert.equal(path.covers('/data/*/*.png', '/data/u/*.png'), true);
  assert.equal(path.covers('/data/u/*', '/data/u/*.png'), true);
  assert.equal(path.covers('/data/u/*.png', '/data/u/*'), false);
  assert.equal(path.covers('/data/u/*.png', '/data/**'), false);
  assert.equal(path.covers('/data/**', '/data/**'), true);
  assert.equal(path.covers('/data/*', '/data/.env'), false);
});

test('validate rejects what the glob language does not have, with a reason', () => {
  assert.equal(path.validate('/data/*.png'), undefined);
  assert.match(path.validate('data/x')!, /must be absolute/);
  assert.match(path.validate('/data/{a,b}')!, /'\{' is not supported/);
  assert.match(path.validate('/data/a**')!, /'\*\*' must be a whole segment/);
  assert.match(path.validate('/data//x')!, /empty path segment/);
  assert.match(path.validate('/data/../etc')!, /'\.\.' segments are not allowed/);
  assert.match(path.validate('/data/')!, /must not end with \//);
});

test('breadth flags wildcards leash would never write', () => {
  const opts = options(['/srv/app']);
  assert.match(path.breadth('/**', opts)!, /whole file system/);
  assert.match(path.breadth('/*', opts)!, /whole file system/);
  assert.match(path.breadth('/etc/*', opts)!, /not inside a configured root/);
  assert.equal(path.breadth('/srv/app/views/*.html', opts), undefined);
  assert.equal(path.breadth('/etc/passwd', opts), undefined);
});

test('a file named `*` (learned as `\\*`) grants that file only, not every file beside it', () => {
  for (const fact of ['/data/*', '/data/*/x', '/data/a*', '/data/**']) {
    const key = path.key(fact);
    assert.equal(path.isPattern(key), false, key);
    assert.equal(path.matches(key, fact), true, key);
    assert.equal(path.matches(key, fact.replaceAll('*', 'x')), false, key);
    assert.equal(path.covers(key, path.key(fact.replaceAll('*', 'x'))), false, key);
  }
  const tree = createTree(path);
  add(tree, ['/data/*']);
  assert.equal(allows(tree, ['/data/*']).allowed, true);
  assert.equal(allows(tree, ['/data/secret']).allowed, false);
  // An escaped star beside a real one: the real one still matches anything, the escaped only `*`.
  assert.equal(path.matches('/data/\\**', '/data/*anything'), true);
  assert.equal(path.matches('/data/\\**', '/data/anything'), false);
});
