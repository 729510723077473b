import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waiterArguments } from './waiter.ts';

test("the waiter's arguments: the spool and lock, only the environment's differences, the command after `--`", () => {
  const own = { PATH: '/bin', HOME: '/root', NODE_OPTIONS: '--max-old-space-size=99' };
  const args = waiterArguments(
    {
      waiter: '/x/leash-sandbox',
      command: ['node', 'server.js', '--port=1'],
      env: { PATH: '/bin', NODE_OPTIONS: '--import=/r.js', LEASH_MODE: 'report' },
      spool: { file: '/p/leash.violations.spool', lock: '/p/leash.policy.json.lock' },
      after: { command: ['/n/node', '/l/leash.js', '_finish'], always: false },
    },
    own,
  );
  assert.deepEqual(args, [
    '--wait',
    '-p',
    '/p/leash.violations.spool',
    '-l',
    '/p/leash.policy.json.lock',
    '-E',
    'NODE_OPTIONS=--import=/r.js',
    '-E',
    'LEASH_MODE=report',
    '-E',
    'HOME',
    '-e',
    '/n/node',
    '-e',
    '/l/leash.js',
    '-e',
    '_finish',
    '--',
    'node',
    'server.js',
    '--port=1',
  ]);
  const learn = waiterArguments(
    { waiter: '/x', command: ['a'], env: own, after: { command: ['f'], always: true } },
    own,
  );
  assert.deepEqual(learn, ['--wait', '-a', '-e', 'f', '--', 'a']);
});
