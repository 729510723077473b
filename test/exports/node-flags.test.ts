// `leash export node-flags`: the policy's runtime union as Node's --permission flags and the
// permission section of node.config.json, checked for content and then for real: a Node process
// started with the flags (and with the config file) may do what the policy grants and nothing else.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  agentPaths,
  compileNodePermissions,
  minimalGrants,
  nodeGrant,
  nodeGrantCovers,
  packageRoot,
} from '../../src/modules/runtime/exporters/node-flags.ts';
import { SINGLE_PROCESS_LIMIT } from '../support/processes.ts';
import {
  FIXTURES,
  makeDataDir,
  PACKAGE_ROOT,
  parse,
  samplePolicy,
  tempDir,
  writePolicy,
} from './helpers.ts';

test('a leash glob becomes the smallest Node grant that includes it', () => {
  const cases: Array<[string, string]> = [
    ['/srv/data/notes.db', '/srv/data/notes.db'],
    ['/srv/data/u/*.png', '/srv/data/u/*'],
    ['/srv/data/u/*', '/srv/data/u/*'],
    ['/srv/app/**', '/srv/app/*'],
    ['/srv/app/**/*.js', '/srv/app/*'],
    ['/srv/data/*/avatar.png', '/srv/data/*'],
    // Node's `*` is a prefix across `/`: the text before the wildcard narrows the grant.
    ['/srv/data/img-*/a.png', '/srv/data/img-*'],
    ['/tmp/export-*.tgz', '/tmp/export-*'],
    // Escapes are decoded; a literal `*` is a wildcard to Node, so the grant stops there.
    ['/srv/a\\{b\\}/c', '/srv/a{b}/c'],
    ['/srv/star\\*name', '/srv/star*'],
    ['/srv/with space/x,y', '/srv/with space/x,y'],
    ['/', '/'],
  ];
  for (const [glob, grant] of cases) assert.equal(nodeGrant(glob), grant, glob);
});

test('grants another one covers are dropped; the rest is sorted', () => {
  assert.ok(nodeGrantCovers('/srv/u/*', '/srv/u'));
  assert.ok(nodeGrantCovers('/srv/u/*', '/srv/u/x/y'));
  assert.ok(nodeGrantCovers('/srv/u*', '/srv/uploads/x'));
  assert.ok(!nodeGrantCovers('/srv/u/*', '/srv/uploads'));
  assert.ok(
    !nodeGrantCovers('/srv/u', '/srv/u/x'),
    'a grant without * is not known to be a directory',
  );
  assert.deepEqual(
    minimalGrants([
      '/srv/u/a.png',
      '/srv/u/*',
      '/srv/b',
      '/srv/u',
      '/srv/b',
      '/srv/a*',
      '/srv/ab/c',
    ]),
    ['/srv/a*', '/srv/b', '/srv/u/*'],
  );
});

test('the sample policy compiles to exactly these flags and config', (t) => {
  const data = '/srv/data';
  const compiled = compileNodePermissions(parse(samplePolicy(data)));
  assert.deepEqual(compiled.flags, [
    '--permission',
    '--allow-fs-read=/srv/data/config.json',
    '--allow-fs-read=/srv/data/notes/*',
    '--allow-fs-read=/srv/data/views/*',
    '--allow-fs-write=/srv/data/uploads/*',
    '--allow-fs-write=/tmp/export-*',
    '--allow-child-process',
    '--allow-net',
  ]);
  assert.deepEqual(compiled.config, {
    permission: {
      'allow-fs-read': ['/srv/data/config.json', '/srv/data/notes/*', '/srv/data/views/*'],
      'allow-fs-write': ['/srv/data/uploads/*', '/tmp/export-*'],
      'allow-child-process': true,
      'allow-net': true,
    },
  });
  assert.deepEqual(compiled.warnings, []);

  const without = compileNodePermissions(parse(samplePolicy(data, { spawn: false })));
  assert.ok(!without.flags.includes('--allow-child-process'));
  assert.equal(without.config.permission['allow-child-process'], undefined);
  t.diagnostic(compiled.flags.join(' '));
});

test('each boolean flag appears only for its capabilities; dns.lookup alone needs --allow-net', () => {
  const only = (capability: string, resource: string) =>
    compileNodePermissions(
      parse({ version: 1, runtime: { '@startup': { app: { [capability]: [resource] } } } }),
    ).flags;
  assert.deepEqual(only('dns.lookup', 'db.internal'), ['--permission', '--allow-net']);
  assert.deepEqual(only('net.listen', '[::]:3000'), ['--permission', '--allow-net']);
  assert.deepEqual(only('worker.start', '/srv/app/worker.js'), ['--permission', '--allow-worker']);
  assert.deepEqual(only('addon.load', '/srv/app/build/x.node'), ['--permission', '--allow-addons']);
  assert.deepEqual(only('wasi.start', 'wasi'), ['--permission', '--allow-wasi']);
  assert.deepEqual(
    only('env.read', 'HOME'),
    ['--permission'],
    'Node has no environment permission',
  );
  assert.deepEqual(compileNodePermissions(parse({ version: 1 })).flags, ['--permission']);
});

test('a rule Node could only grant as the whole file system is left out with a warning', () => {
  const compiled = compileNodePermissions(
    parse({
      version: 1,
      runtime: { '@startup': { app: { 'fs.read': ['/', '/srv/a'], 'fs.write': ['/**'] } } },
    }),
  );
  assert.deepEqual(compiled.flags, ['--permission', '--allow-fs-read=/srv/a']);
  assert.equal(compiled.warnings.length, 2);
  assert.match(compiled.warnings[0]!, /^fs\.read \/: Node would grant the whole file system/);
  assert.match(compiled.warnings[1]!, /^fs\.write \/\*\*: /);
});

test("agentPaths: the policy's directory, the config file, leash's code; the violations file and lock", () => {
  assert.equal(packageRoot(), PACKAGE_ROOT);
  const paths = agentPaths({
    file: '/srv/app/leash.config.json',
    policyFile: '/srv/app/leash.policy.json',
  });
  assert.deepEqual(paths.write, [
    '/srv/app/leash.violations.json',
    '/srv/app/.leash.violations.json.*.tmp',
    '/srv/app/leash.policy.json.lock*',
  ]);
  for (const glob of [
    '/srv/app',
    '/srv/app/**',
    '/srv/app/leash.config.json',
    PACKAGE_ROOT,
    `${PACKAGE_ROOT}/**`,
  ]) {
    assert.ok(paths.read.includes(glob), `${glob} in ${paths.read.join(' ')}`);
  }
  const compiled = compileNodePermissions(parse({ version: 1 }), {
    extraRead: paths.read,
    extraWrite: paths.write,
  });
  assert.deepEqual(compiled.config.permission['allow-fs-write'], [
    '/srv/app/.leash.violations.json.*',
    '/srv/app/leash.policy.json.lock*',
    '/srv/app/leash.violations.json',
  ]);
  assert.ok(compiled.flags.includes('--allow-fs-read=/srv/app/*'));
  assert.ok(
    !compiled.flags.includes('--allow-fs-read=/srv/app/leash.config.json'),
    'covered by the directory',
  );
  // A name with glob characters is escaped, so it stays a literal path.
  const odd = agentPaths({ file: undefined, policyFile: '/srv/a*b/leash.policy.json' });
  assert.ok(odd.read.includes('/srv/a\\*b/**'));
});

function probe(args: readonly string[], data: string, cwd: string) {
  const result = spawnSync(process.execPath, [...args, join(FIXTURES, 'probe.mjs'), data], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
    ...SINGLE_PROCESS_LIMIT,
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as Record<string, string>;
}

const GRANTED = { readNote: 'ok', readConfig: 'ok', readView: 'ok', writeUpload: 'ok', net: 'ok' };
const DENIED = {
  readSecret: 'ERR_ACCESS_DENIED',
  readHostname: 'ERR_ACCESS_DENIED',
  writeOutside: 'ERR_ACCESS_DENIED',
  writeEtc: 'ERR_ACCESS_DENIED',
};

test('for real: Node started with the flags may do what the policy grants and nothing else', (t) => {
  const dir = tempDir(t);
  const data = makeDataDir(dir);

  const withSpawn = compileNodePermissions(parse(samplePolicy(data)));
  assert.deepEqual(probe(withSpawn.flags, data, dir), { ...GRANTED, ...DENIED, spawn: 'ok' });

  const noSpawn = compileNodePermissions(parse(samplePolicy(data, { spawn: false })));
  assert.deepEqual(probe(noSpawn.flags, data, dir), {
    ...GRANTED,
    ...DENIED,
    spawn: 'ERR_ACCESS_DENIED',
  });

  const noNet = compileNodePermissions(
    parse({ version: 1, runtime: { '@startup': { app: { 'fs.read': [`${data}/**`] } } } }),
  );
  const result = probe(noNet.flags, data, dir);
  assert.equal(result.net, 'ERR_ACCESS_DENIED');
  assert.equal(result.readSecret, 'ok', `${data}/** grants the whole data directory`);
  assert.equal(result.writeUpload, 'ERR_ACCESS_DENIED');
});

test('for real: the same grants through node.config.json (--experimental-config-file)', (t) => {
  const dir = tempDir(t);
  const data = makeDataDir(dir);
  for (const spawn of [true, false]) {
    const { config } = compileNodePermissions(parse(samplePolicy(data, { spawn })));
    const file = join(dir, `node.config.${spawn}.json`);
    writeFileSync(file, JSON.stringify(config));
    // The "permission" namespace turns --permission on by itself.
    const result = probe([`--experimental-config-file=${file}`], data, dir);
    assert.deepEqual(result, { ...GRANTED, ...DENIED, spawn: spawn ? 'ok' : 'ERR_ACCESS_DENIED' });
  }
});

test("Node's file grant semantics that nodeGrant and minimalGrants rely on", (t) => {
  const dir = tempDir(t);
  const data = makeDataDir(dir);
  const has = (grants: readonly string[], checks: readonly string[]): boolean[] => {
    const script = `process.stdout.write(JSON.stringify(${JSON.stringify(checks)}.map((p) => process.permission.has('fs.read', p))))`;
    const args = ['--permission', ...grants.map((g) => `--allow-fs-read=${g}`), '-e', script];
    const result = spawnSync(process.execPath, args, { encoding: 'utf8', ...SINGLE_PROCESS_LIMIT });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as boolean[];
  };
  const notes = join(data, 'notes');
  // `dir/*`: the directory and its whole subtree, existing or not; not a sibling with that prefix.
  assert.deepEqual(
    has([`${notes}/*`], [notes, `${notes}/a.md`, `${notes}/x/y/z`, `${notes}2/a.md`]),
    [true, true, true, false],
  );
  assert.deepEqual(has([`${dir}/nothing-yet/*`], [`${dir}/nothing-yet/a/b`]), [true]);
  // Text after `*` is ignored, and the `*` matches across `/`.
  assert.deepEqual(has([`${notes}/*.md`], [`${notes}/a.txt`, `${notes}/sub/b`]), [true, true]);
  assert.deepEqual(has([`${data}/no*`], [`${notes}/a.md`, `${data}/nope/x`, `${data}/views/x`]), [
    true,
    true,
    false,
  ]);
  // Without `*`: an existing directory grants its subtree, any other path only itself.
  assert.deepEqual(has([notes], [`${notes}/a.md`, `${notes}/sub/x`]), [true, true]);
  assert.deepEqual(has([`${dir}/missing`], [`${dir}/missing`, `${dir}/missing/x`]), [true, false]);
  assert.deepEqual(
    has([`${data}/config.json`], [`${data}/config.json`, `${data}/config.json.bak`]),
    [true, false],
  );
  // `..` is resolved before the check; a comma is part of the path.
  assert.deepEqual(has([`${notes}/*`], [`${notes}/../secret.txt`]), [false]);
  assert.deepEqual(has([`${data}/a,b`], [`${data}/a,b`, `${data}/a`]), [true, false]);
});

test('for real: symbolic links are not resolved in grants, nor re-checked when followed', (t) => {
  const dir = tempDir(t);
  const data = makeDataDir(dir);
  symlinkSync(join(data, 'secret.txt'), join(data, 'notes', 'escape.md'));
  symlinkSync(join(data, 'notes'), join(dir, 'alias'));
  const read = (grants: readonly string[], path: string): string => {
    const script = `try { require('fs').readFileSync(${JSON.stringify(path)}); console.log('ok') } catch (e) { console.log(e.code) }`;
    const args = ['--permission', ...grants.map((g) => `--allow-fs-read=${g}`), '-e', script];
    return spawnSync(process.execPath, args, {
      encoding: 'utf8',
      ...SINGLE_PROCESS_LIMIT,
    }).stdout.trim();
  };
  // A link inside a granted directory reaches a file outside it (a documented Node limitation).
  assert.equal(read([`${data}/notes/*`], join(data, 'notes', 'escape.md')), 'ok');
  assert.equal(read([`${data}/notes/*`], join(data, 'secret.txt')), 'ERR_ACCESS_DENIED');
  // A grant names paths as the program spells them: the alias is not its target, nor the reverse.
  assert.equal(read([`${data}/notes/*`], join(dir, 'alias', 'a.md')), 'ERR_ACCESS_DENIED');
  assert.equal(read([`${dir}/alias/*`], join(dir, 'alias', 'a.md')), 'ok');
  assert.equal(read([`${dir}/alias/*`], join(data, 'notes', 'a.md')), 'ERR_ACCESS_DENIED');
});

test("for real: leash's own store works under the agent's paths (lock, atomic violations file)", (t) => {
  const dir = tempDir(t);
  const data = makeDataDir(dir);
  const policyFile = writePolicy(dir, samplePolicy(data));
  const agent = agentPaths({ file: undefined, policyFile });
  const { flags } = compileNodePermissions(parse(samplePolicy(data)), {
    extraRead: agent.read,
    extraWrite: agent.write,
  });
  const run = (args: readonly string[]) =>
    spawnSync(process.execPath, [...args, join(FIXTURES, 'agent-store.ts'), policyFile], {
      cwd: dir,
      encoding: 'utf8',
      ...SINGLE_PROCESS_LIMIT,
    });
  const result = run(flags);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, '1\n');
  assert.ok(existsSync(join(dir, 'leash.violations.json')));
  // Without the agent's write grants the same store is refused.
  const without = run(flags.filter((f) => !f.startsWith(`--allow-fs-write=${dir}`)));
  assert.notEqual(without.status, 0);
  assert.match(without.stderr, /ERR_ACCESS_DENIED|permission/i);
});
