// Part of `npm install` in this repository (the `prepare` script): makes the native addon of
// better-sqlite3, a test dependency, load in the Node 26 this project runs on. npm builds addons
// with the machine's Node headers (an old Node here), so when the build does not load, it is
// rebuilt against the headers the `node` package ships (node-<platform>-<arch>/include/node).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(root, 'package.json'));
const say = (text) => process.stderr.write(`native-addons: ${text}\n`);

// A failed dlopen stays cached in this process, so after a rebuild only a fresh process can say
// whether the new addon loads.
function loadsInFreshProcess() {
  const probe = "const D = require('better-sqlite3'); new D(':memory:').close();";
  return spawnSync(process.execPath, ['-e', probe], { cwd: root, stdio: 'ignore' }).status === 0;
}

function loads() {
  try {
    const Database = require('better-sqlite3');
    new Database(':memory:').close();
    return true;
  } catch (error) {
    if (error.code === 'MODULE_NOT_FOUND') return 'absent';
    return false;
  }
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

const state = loads();
if (state === true || state === 'absent') process.exit(0);
const major = Number(process.versions.node.split('.')[0]);
const nodedir = headersFor(major);
if (nodedir === undefined) {
  say(
    `better-sqlite3 does not load in Node ${process.versions.node} and no Node ${major} headers were found; its tests will fail`,
  );
  process.exit(0);
}
say(`rebuilding better-sqlite3 for Node ${process.versions.node} (about a minute)`);
const npm = process.env.npm_execpath;
const result = npm
  ? spawnSync(process.execPath, [npm, 'rebuild', 'better-sqlite3', `--nodedir=${nodedir}`], {
      cwd: root,
      stdio: 'inherit',
    })
  : spawnSync('npm', ['rebuild', 'better-sqlite3', `--nodedir=${nodedir}`], {
      cwd: root,
      stdio: 'inherit',
    });
if (result.status !== 0 || !loadsInFreshProcess())
  say('the rebuild did not produce a loadable addon; the better-sqlite3 tests will fail');
