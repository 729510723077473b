// The policy belongs to the supervisor: a policy whose fs.write rule would let the service write
// its own policy file (Landlock cannot carve the file out of a directory grant) stops
// `leash enforce` before the service runs, naming the rule's directory and the file.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN } from '../runtime/helpers.ts';
import { run } from '../support/processes.ts';
import { NO_KERNEL } from './helpers.ts';

test('a write rule covering the policy file stops enforce with ERR_LEASH_KERNEL', {
  skip: NO_KERNEL,
}, async (t) => {
  const work = realpathSync(mkdtempSync(join(tmpdir(), 'leash-ownership-')));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const service = join(work, 'service.mjs');
  writeFileSync(
    service,
    "import { writeFileSync } from 'node:fs'; writeFileSync('ran.txt', 'yes');\n",
  );
  const policyFile = join(work, 'leash.policy.json');
  const policy = {
    version: 1,
    runtime: {
      '@startup': {
        app: { 'fs.write': [`${work}/out/*`, `${work}/**`] },
        node: { 'fs.read': [`${work}/**`] },
      },
    },
  };
  writeFileSync(policyFile, `${JSON.stringify(policy, null, 2)}\n`);
  const result = await run(process.execPath, [BIN, 'enforce', '--', process.execPath, service], {
    cwd: work,
    env: { ...process.env, LEASH_CONFIG: '', LEASH_MODE: '', LEASH_POLICY: '', NO_COLOR: '1' },
  });
  assert.equal(result.status, 2, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`the policy lets the service write ${work}, which holds the policy file`),
  );
  assert.equal(existsSync(join(work, 'ran.txt')), false, 'the service ran');
  // --layer both (no kernel) runs it: the refusal is the kernel layer's.
  const both = await run(
    process.execPath,
    [BIN, 'enforce', '--layer=both', '--', process.execPath, service],
    {
      cwd: work,
      env: { ...process.env, LEASH_CONFIG: '', LEASH_MODE: '', LEASH_POLICY: '', NO_COLOR: '1' },
    },
  );
  assert.equal(both.status, 0, both.stderr);
  assert.equal(existsSync(join(work, 'ran.txt')), true);
});
