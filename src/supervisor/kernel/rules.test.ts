import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Policy } from '../../core/policy.ts';
import { registryWith } from '../../modules/builtin.ts';
import { resolveProgram } from '../../modules/runtime/exporters/commands.ts';
import { parsePolicy } from '../../store/policy-file.ts';
import { interpreterOf } from './interpreter.ts';
import { assertUnwritable, covers } from './protected.ts';
import { compileKernelRules, createWriteDir, kernelPath, launcherArguments } from './rules.ts';

const NO_BASELINE = { read: [], write: [] };

function policy(runtime: Record<string, Record<string, Record<string, string[]>>>): Policy {
  return parsePolicy(JSON.stringify({ version: 1, runtime }), {
    file: 'leash.policy.json',
    modules: registryWith(),
  });
}

function workspace(t: { after(fn: () => void): void }): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-kernel-rules-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a glob becomes its longest literal directory; a missing path its nearest existing one; never /', (t) => {
  const dir = workspace(t);
  mkdirSync(join(dir, 'u'));
  writeFileSync(join(dir, 'u', 'a.png'), '');
  const warnings: string[] = [];
  assert.equal(kernelPath(`${dir}/u/*.png`, 'fs.read', warnings), `${dir}/u`);
  assert.equal(kernelPath(`${dir}/u/**`, 'fs.read', warnings), `${dir}/u`);
  assert.equal(kernelPath(`${dir}/u/a.png`, 'fs.read', warnings), `${dir}/u/a.png`);
  // `img-*` is cut at the wildcard's directory, not at the text before it.
  assert.equal(kernelPath(`${dir}/img-*/a.png`, 'fs.read', warnings), dir);
  assert.deepEqual(warnings, []);
  assert.equal(kernelPath(`${dir}/later/x.db`, 'fs.write', warnings), dir);
  assert.match(warnings[0]!, /does not exist yet; granted on/);
  assert.equal(kernelPath('/**', 'fs.read', warnings), undefined);
  assert.equal(kernelPath('/nonexistent-leash-dir/x', 'fs.read', warnings), undefined);
  assert.match(warnings.at(-1)!, /whole file system; left out/);
});

test('the service program is executable with its ELF loader; ports, UDP and unix sockets follow the rules', (t) => {
  const dir = workspace(t);
  const rules = compileKernelRules(
    policy({
      '@startup': {
        app: {
          'net.listen': ['127.0.0.1:0', '[::1]:8080'],
          'fs.read': [`${dir}/**`],
        },
      },
      'GET /weather': {
        app: {
          'net.connect': ['api.example.com:443', '127.0.0.1:5432'],
          'dns.lookup': ['api.example.com'],
        },
      },
    }),
    { command: [process.execPath, 'server.js'], searchPath: '', baseline: NO_BASELINE },
  );
  const node = realpathSync(process.execPath);
  assert.equal(rules.executable, node);
  assert.ok(rules.exec.includes(node));
  const loader = interpreterOf(node);
  if (loader.kind === 'elf') assert.ok(rules.exec.includes(realpathSync(loader.path)), 'ld.so');
  assert.deepEqual(rules.read, [dir]);
  assert.deepEqual(rules.write, []);
  assert.deepEqual(rules.bind, [0, 8080]);
  assert.deepEqual(rules.connect, [53, 443, 5432]);
  assert.equal(rules.udp, true, 'the resolver needs UDP');
  assert.equal(rules.unix, false);
  assert.equal(rules.bindAny || rules.connectAny, false);
  assert.deepEqual(launcherArguments(rules).slice(0, 4), ['-r', dir, '-x', rules.exec[0]]);
  assert.equal(launcherArguments(rules).at(-1), '--');
});

test('no DNS rule: no UDP; a * port lifts the port rule', () => {
  const rules = compileKernelRules(
    policy({ 'GET /': { app: { 'net.connect': ['partner.example:*'] } } }),
    { command: [process.execPath], searchPath: '', baseline: NO_BASELINE },
  );
  assert.equal(rules.udp, false);
  assert.equal(rules.connectAny, true);
  assert.match(rules.warnings.join('\n'), /no single port/);
});

test("command rules: their programs, /bin/sh, tar's compressors, and the paths their arguments name", (t) => {
  const dir = workspace(t);
  mkdirSync(join(dir, 'exports'));
  const searchPath = process.env.PATH ?? '/usr/bin:/bin';
  const tar = resolveProgram('tar', searchPath);
  const gzip = resolveProgram('gzip', searchPath);
  if (tar === undefined || gzip === undefined) {
    t.skip('no tar and gzip here');
    return;
  }
  const rules = compileKernelRules(
    policy({
      'POST /export': {
        app: { 'child.spawn': [`tar -czf {path:${dir}/exports/*.tgz} -C ${dir}/exports {arg}`] },
      },
    }),
    { command: [process.execPath], searchPath, baseline: NO_BASELINE },
  );
  assert.ok(rules.exec.includes(tar), rules.exec.join(' '));
  assert.ok(rules.exec.includes(gzip), 'tar runs gzip itself');
  assert.ok(rules.exec.includes(realpathSync('/bin/sh')), 'exec() runs through /bin/sh');
  assert.deepEqual(rules.read, [`${dir}/exports`]);
  assert.deepEqual(rules.write, [`${dir}/exports`]);
});

test('no command rule: nothing but the service program (and its loader) is executable', () => {
  const rules = compileKernelRules(policy({}), {
    command: [process.execPath],
    searchPath: process.env.PATH ?? '',
    baseline: NO_BASELINE,
  });
  assert.ok(!rules.exec.includes(realpathSync('/bin/sh')));
  assert.ok(rules.exec.length <= 2, rules.exec.join(' '));
});

test('a #! script is executable with its interpreter, through env', (t) => {
  const dir = workspace(t);
  const script = join(dir, 'serve');
  writeFileSync(script, '#!/usr/bin/env node\nconsole.log(1)\n', { mode: 0o755 });
  assert.deepEqual(interpreterOf(script), {
    kind: 'script',
    path: '/usr/bin/env',
    argument: 'node',
  });
  const searchPath = `${join(process.execPath, '..')}:/usr/bin:/bin`;
  const rules = compileKernelRules(policy({}), {
    command: [script],
    searchPath,
    baseline: NO_BASELINE,
  });
  assert.ok(rules.exec.includes(script));
  assert.ok(rules.exec.includes(realpathSync('/usr/bin/env')));
  assert.ok(rules.exec.includes(realpathSync(process.execPath)));
});

test('a write grant that reaches the policy, the config or leash is refused with both named', () => {
  assert.ok(covers('/srv/app', '/srv/app/leash.policy.json'));
  assert.ok(covers('/srv/app/leash.policy.json', '/srv/app/leash.policy.json'));
  assert.ok(!covers('/srv/app/data', '/srv/app/leash.policy.json'));
  assert.ok(!covers('/srv/ap', '/srv/app/leash.policy.json'));
  const guarded = [{ path: '/srv/app/leash.policy.json', what: 'the policy file' }];
  assert.doesNotThrow(() => assertUnwritable(['/srv/app/data', '/tmp'], guarded));
  assert.throws(
    () => assertUnwritable(['/srv/app/data', '/srv/app'], guarded),
    (error: Error & { code?: string }) =>
      error.code === 'ERR_LEASH_KERNEL' &&
      error.message.includes('/srv/app') &&
      error.message.includes('the policy file'),
  );
});

test("a fresh copy's missing data directory is made, so its write grant stays on it and not on the app directory", (t) => {
  const app = workspace(t);
  writeFileSync(join(app, 'leash.policy.json'), '{}');
  const writes = policy({
    '@startup': { app: { 'fs.write': [`${app}/data/*`], 'fs.read': [`${app}/data/notes.db`] } },
    'POST /upload': { app: { 'fs.write': [`${app}/data/uploads/*/*`] } },
    'POST /export': { app: { 'fs.write': [`${app}/out/report.txt`] } },
  });
  const compile = (createWriteDirs: boolean) =>
    compileKernelRules(writes, {
      command: [process.execPath],
      searchPath: '',
      baseline: NO_BASELINE,
      createWriteDirs,
    });
  // Compiling alone makes nothing: the grants widen to the app directory, policy and all.
  const widened = compile(false);
  assert.deepEqual(widened.write, [app]);
  assert.deepEqual(widened.read, [app]);
  assert.equal(existsSync(join(app, 'data')), false);
  assert.throws(
    () => assertUnwritable(widened.write, [{ path: join(app, 'leash.policy.json'), what: 'x' }]),
    /ERR_LEASH_KERNEL|the policy lets the service write/,
  );

  const rules = compile(true);
  assert.deepEqual(rules.write, [
    join(app, 'data'),
    join(app, 'data', 'uploads'),
    join(app, 'out'),
  ]);
  // A file the service has yet to make is read in the directory made for it.
  assert.deepEqual(rules.read, [join(app, 'data')]);
  assert.match(rules.warnings.join('\n'), /made .*\/data, which did not exist yet/);
  assert.doesNotThrow(() =>
    assertUnwritable(rules.write, [{ path: join(app, 'leash.policy.json'), what: 'x' }]),
  );
});

test('a write directory is never made at the top of the file system, and an existing path makes nothing', (t) => {
  const dir = workspace(t);
  const warnings: string[] = [];
  assert.equal(createWriteDir('/nonexistent-leash-dir/a/*', warnings), undefined);
  assert.equal(existsSync('/nonexistent-leash-dir'), false);
  writeFileSync(join(dir, 'notes.db'), '');
  assert.equal(createWriteDir(`${dir}/notes.db`, warnings), undefined);
  assert.equal(createWriteDir(`${dir}/*.db`, warnings), undefined);
  assert.deepEqual(warnings, []);
  assert.equal(createWriteDir(`${dir}/logs/**`, warnings), join(dir, 'logs'));
});
