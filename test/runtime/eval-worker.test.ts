// A worker started from code (`new Worker(code, { eval: true })`) is learned as a path the policy
// can hold, named by the code: learning writes a policy that lint and enforce read, the same code
// starts again under enforce, and other code is refused.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { run } from '../support/processes.ts';
import { BIN, startUnder } from './helpers.ts';

const dir = realpathSync(mkdtempSync(join(tmpdir(), 'leash-eval-worker-')));
after(() => rmSync(dir, { recursive: true, force: true }));

const SERVICE = `
import http from 'node:http';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
const start = async (code) => {
  const worker = new Worker(code, { eval: true });
  const [message] = await once(worker, 'message');
  await worker.terminate();
  return message;
};
const server = http.createServer(async (req, res) => {
  // One route (node:http scopes by path), two codes: the query picks.
  const code = req.url === '/run?code=other'
    ? "require('node:worker_threads').parentPort.postMessage('other')"
    : "require('node:worker_threads').parentPort.postMessage('same')";
  try {
    res.end(String(await start(code)));
  } catch (error) {
    res.end(String(error.code));
  }
});
server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
`;

test('an eval worker is learned by its code; lint and enforce read the policy; other code is refused', async () => {
  writeFileSync(join(dir, 'service.mjs'), SERVICE);
  const policyFile = join(dir, 'leash.policy.json');
  const learning = await startUnder(
    ['learn', '--policy', policyFile, '--', process.execPath, 'service.mjs'],
    { cwd: dir },
  );
  try {
    assert.equal(await (await fetch(new URL('/run?code=same', learning.base))).text(), 'same');
  } finally {
    await learning.stop();
  }
  const runtime = JSON.parse(readFileSync(policyFile, 'utf8')).runtime;
  const started = Object.values(
    runtime as Record<string, Record<string, Record<string, string[]>>>,
  ).flatMap((pkgs) => Object.values(pkgs).flatMap((caps) => caps['worker.start'] ?? []));
  assert.equal(started.length, 1, JSON.stringify(runtime));
  assert.match(started[0]!, /^\/eval\/[0-9a-f]{16}$/);
  const lint = await run(process.execPath, [BIN, 'policy', 'lint', policyFile], {
    cwd: dir,
    env: { ...process.env, LEASH_CONFIG: '', NO_COLOR: '1' },
  });
  assert.notEqual(lint.status, 2, lint.stdout + lint.stderr);
  const enforcing = await startUnder(
    [
      'enforce',
      '--layer',
      'process',
      '--policy',
      policyFile,
      '--',
      process.execPath,
      'service.mjs',
    ],
    { cwd: dir },
  );
  try {
    assert.equal(await (await fetch(new URL('/run?code=same', enforcing.base))).text(), 'same');
    assert.equal(
      await (await fetch(new URL('/run?code=other', enforcing.base))).text(),
      'ERR_LEASH_DENIED',
    );
  } finally {
    await enforcing.stop();
  }
});
