import assert from 'node:assert/strict';
import childProcess from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { RuntimeContext } from './context.ts';
import { wrapChildProcess } from './wrap-child.ts';

/** The command lines checked, and the `entry` each check was given. */
const checked: Array<{ resource: string; entry: unknown }> = [];
let refuse: string | undefined;

const context = {
  host: { mode: 'report' },
  check(capability: string, resource: string, _excuse?: unknown, entry?: unknown) {
    assert.equal(capability, 'child.spawn');
    checked.push({ resource, entry });
    if (resource === refuse)
      throw Object.assign(new Error('refused'), { code: 'ERR_LEASH_DENIED' });
  },
  observe() {},
  use: () => ({ scope: '@startup', package: 'app' }),
} as unknown as RuntimeContext;

let restore: () => void;
before(() => {
  restore = wrapChildProcess(context);
});
after(() => restore());

const run = (command: string, options: object = {}) =>
  new Promise<string>((resolve, reject) =>
    childProcess.exec(command, options, (error, stdout) =>
      error ? reject(error) : resolve(String(stdout)),
    ),
  );

test('exec is decided once, though Node runs it through the exported execFile', async () => {
  checked.length = 0;
  assert.equal(await run('echo once'), 'once\n');
  assert.deepEqual(
    checked.map((c) => c.resource),
    ['echo once'],
  );
  // The stack is read from right below the wrapper the service called.
  assert.equal(typeof checked[0]!.entry, 'function');
});

test('promisified exec is decided once too', async () => {
  checked.length = 0;
  const { stdout } = await promisify(childProcess.exec)('echo promised');
  assert.equal(stdout, 'promised\n');
  assert.deepEqual(
    checked.map((c) => c.resource),
    ['echo promised'],
  );
});

test('a command the service starts while exec reads its options is decided on its own', async () => {
  checked.length = 0;
  const options = {
    get timeout() {
      childProcess.execFile('echo', ['inner'], () => {});
      return 5000;
    },
  };
  assert.equal(await run('echo outer', options), 'outer\n');
  assert.deepEqual(checked.map((c) => c.resource).sort(), ['echo inner', 'echo outer']);
});

test('the same command line started by the service inside exec is decided again', async () => {
  checked.length = 0;
  const options = {
    get timeout() {
      // Not Node's own call: the service's, with the very command line exec just decided.
      childProcess.execFile('echo again', { shell: true }, () => {});
      return 5000;
    },
  };
  assert.equal(await run('echo again', options), 'again\n');
  assert.deepEqual(
    checked.map((c) => c.resource),
    ['echo again', 'echo again'],
  );
});

test('a refused exec starts nothing and hands the refusal to its callback', async () => {
  checked.length = 0;
  refuse = 'echo no';
  try {
    await assert.rejects(run('echo no'), { code: 'ERR_LEASH_DENIED' });
    assert.deepEqual(
      checked.map((c) => c.resource),
      ['echo no'],
    );
  } finally {
    refuse = undefined;
  }
});
