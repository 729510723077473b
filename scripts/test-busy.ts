/**
 * @module
 * `npm run test:busy`: the whole suite (`npm test`) with two CPU-hungry processes beside it, as on
 * a shared CI runner. The hogs are `stress-ng --cpu 1` when Debian's stress-ng is installed, else
 * a busy loop in Node; each runs in its own process group and is killed when the suite ends, fails,
 * or this script is interrupted. The exit code is the suite's.
 *
 * `LEASH_BUSY_HOGS=<n>` changes the number of hogs; arguments after `--` go to `npm test`.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';

const HOGS = Number(process.env.LEASH_BUSY_HOGS ?? 2);
const BUSY_LOOP = 'for (;;) {}';

function hasStressNg(): boolean {
  const probe = spawnSync('stress-ng', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

const stressNg = hasStressNg();
const hogs: ChildProcess[] = [];

function killHogs(): void {
  for (const hog of hogs) {
    if (hog.pid === undefined) continue;
    try {
      process.kill(-hog.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

process.on('exit', killHogs);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    killHogs();
    process.kill(process.pid, signal);
  });
}

for (let i = 0; i < HOGS; i++) {
  const [file, args] = stressNg
    ? ['stress-ng', ['--cpu', '1', '--quiet']]
    : [process.execPath, ['-e', BUSY_LOOP]];
  hogs.push(spawn(file, args, { stdio: 'ignore', detached: true }));
}
process.stderr.write(
  `test:busy: ${HOGS} CPU hog(s) (${stressNg ? 'stress-ng --cpu 1' : 'a Node busy loop'}) beside npm test\n`,
);

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const extra = process.argv.slice(2);
const suite = spawn(npm, ['test', ...(extra.length > 0 ? ['--', ...extra] : [])], {
  stdio: 'inherit',
});
suite.on('exit', (code, signal) => {
  killHogs();
  process.exitCode = code ?? (signal === null ? 1 : 128);
});
suite.on('error', (error) => {
  killHogs();
  process.stderr.write(`test:busy: cannot run npm test: ${error.message}\n`);
  process.exitCode = 1;
});
