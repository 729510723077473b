// Part of `npm install` in this repository (the `prepare` script): makes the native addons of the
// test dependencies better-sqlite3 and sqlite3 load in the Node 26 this project runs on. npm
// builds addons with the machine's Node headers (an old Node here), or not at all (sqlite3's
// install script, which would download a prebuilt binary or headers, is denied in
// package.json's allowScripts), so an addon that does not load is rebuilt against the headers the
// `node` package ships (node-<platform>-<arch>/include/node).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(root, 'package.json'));
const say = (text) => process.stderr.write(`native-addons: ${text}\n`);

const BETTER_SQLITE3 = (name) => `const D = require('${name}'); new D(':memory:').close();`;
const SQLITE3 = (name) => `const s = require('${name}'); new s.Database(':memory:').close();`;

// An addon built through node-pre-gyp (sqlite3 before 5.1.7) has a binding.gyp that needs
// node-pre-gyp's variables: given here as node-pre-gyp computes them from package.json's
// `binary`, so the addon lands where its loader (node-pre-gyp's `find`) looks.
function preGypVariables(dir) {
  const binary = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).binary;
  if (binary?.module_name === undefined) return [];
  const napi = Math.max(...(binary.napi_versions ?? [3]));
  const modulePath = binary.module_path
    .replace('{napi_build_version}', napi)
    .replace('{platform}', process.platform)
    .replace('{arch}', process.arch);
  return [
    `--module_name=${binary.module_name}`,
    `--module_path=${join(dir, modulePath)}`,
    `--napi_build_version=${napi}`,
  ];
}

// sqlite3 before 5.1 unpacks SQLite by running `python` (its deps/sqlite3.gyp), which a machine
// with only python3 lacks: there a `python` that is python3 goes first on the build's PATH.
function withPython(env) {
  if (spawnSync('python', ['--version'], { stdio: 'ignore' }).status === 0) return env;
  const python3 = spawnSync('sh', ['-c', 'command -v python3'], { encoding: 'utf8' }).stdout.trim();
  if (python3 === '') return env;
  const dir = mkdtempSync(join(tmpdir(), 'leash-native-addons-'));
  symlinkSync(python3, join(dir, 'python'));
  return { ...env, PATH: `${dir}${delimiter}${env.PATH ?? ''}` };
}

// node-gyp in the package's own directory: for an addon whose install script is denied, which
// npm rebuild would skip, or one installed under an alias.
const nodeGyp = (name) => (nodedir) => {
  const dir = dirname(require.resolve(`${name}/package.json`));
  const variables = preGypVariables(dir);
  // Under npm (the prepare script) the environment carries npm's own nodedir (the machine's
  // Node), which node-gyp would take over the --nodedir given here.
  const env = { ...process.env, npm_config_nodedir: nodedir };
  return spawnSync(
    process.execPath,
    [
      require.resolve('node-gyp/bin/node-gyp.js'),
      'rebuild',
      '--release',
      `--nodedir=${nodedir}`,
      ...variables,
    ],
    { cwd: dir, stdio: 'inherit', env: variables.length > 0 ? withPython(env) : env },
  );
};

const ADDONS = [
  {
    name: 'better-sqlite3',
    probe: BETTER_SQLITE3('better-sqlite3'),
    // Its install script (allowed) builds it; a rebuild runs it again with the right headers.
    rebuild: (nodedir) => npm(['rebuild', 'better-sqlite3', `--nodedir=${nodedir}`]),
  },
  // sqlite3's install script is denied (it would download a prebuilt binary or headers).
  { name: 'sqlite3', probe: SQLITE3('sqlite3'), rebuild: nodeGyp('sqlite3') },
  // The lowest and highest versions of the supported ranges, installed under npm aliases for
  // test/instrument/version-range-sql.test.ts (better-sqlite3 13 ships a prebuilt N-API addon
  // that loads as it is). allowScripts cannot deny an alias's install script without denying
  // the main better-sqlite3's too, so npm builds better-sqlite3-lowest once with the machine's
  // headers, and it is rebuilt here.
  ...['better-sqlite3-lowest', 'better-sqlite3-highest'].map((name) => ({
    name,
    probe: BETTER_SQLITE3(name),
    rebuild: nodeGyp(name),
  })),
  { name: 'sqlite3-lowest', probe: SQLITE3('sqlite3-lowest'), rebuild: nodeGyp('sqlite3-lowest') },
];

function npm(args) {
  const cli = process.env.npm_execpath;
  return cli
    ? spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' })
    : spawnSync('npm', args, { cwd: root, stdio: 'inherit' });
}

// A failed dlopen stays cached in a process, so each probe runs in a fresh one.
function loads(addon) {
  try {
    require.resolve(`${addon.name}/package.json`);
  } catch {
    return 'absent';
  }
  return (
    spawnSync(process.execPath, ['-e', addon.probe], { cwd: root, stdio: 'ignore' }).status === 0
  );
}

function headersFor(major) {
  const arch = `node-${process.platform}-${process.arch}`;
  for (const dir of [
    join(root, 'node_modules', 'node', 'node_modules', arch),
    join(root, 'node_modules', arch),
  ]) {
    const version = join(dir, 'include', 'node', 'node_version.h');
    if (!existsSync(version)) continue;
    const found = /#define NODE_MAJOR_VERSION (\d+)/.exec(readFileSync(version, 'utf8'))?.[1];
    if (Number(found) === major) return dir;
  }
  return undefined;
}

const major = Number(process.versions.node.split('.')[0]);
for (const addon of ADDONS) {
  const state = loads(addon);
  if (state === true || state === 'absent') continue;
  const nodedir = headersFor(major);
  if (nodedir === undefined) {
    say(
      `${addon.name} does not load in Node ${process.versions.node} and no Node ${major} headers were found; its tests will fail`,
    );
    continue;
  }
  say(`building ${addon.name} for Node ${process.versions.node} (a minute or two)`);
  const result = addon.rebuild(nodedir);
  if (result.status !== 0 || loads(addon) !== true)
    say(`the build did not produce a loadable ${addon.name}; its tests will fail`);
}
