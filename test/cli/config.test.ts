// A config that is not what its author meant fails closed: every typo is one specific line on
// stderr (what is wrong, the likely intended name), exit 2, and the service never starts. So does
// enforce without a policy file. leash.config.ts is read like the other config files.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, cleanEnv } from '../runtime/helpers.ts';
import { run } from '../support/processes.ts';

// Proves that it ran: the marker file exists only if the service's code was reached.
const SERVICE = "import { writeFileSync } from 'node:fs'; writeFileSync('ran.txt', 'yes');\n";

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-config-'));
  writeFileSync(join(dir, 'service.mjs'), SERVICE);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function leash(dir: string, mode: string, env: NodeJS.ProcessEnv = {}) {
  const result = await run(
    process.execPath,
    [BIN, mode, '--', process.execPath, join(dir, 'service.mjs')],
    {
      cwd: dir,
      env: cleanEnv(env),
    },
  );
  return { ...result, ran: existsSync(join(dir, 'ran.txt')) };
}

/** Exit 2, exactly one line matching `expected`, and the service never ran. */
function assertRefused(result: Awaited<ReturnType<typeof leash>>, expected: RegExp): void {
  assert.equal(result.status, 2, result.stderr);
  assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr);
  assert.match(result.stderr, expected);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(result.ran, false, 'the service ran');
}

const json = (value: unknown) => ({ 'leash.config.json': JSON.stringify(value, null, 2) });

const typos: Array<[string, Record<string, string>, RegExp]> = [
  [
    'a misspelt module in mode',
    json({ mode: { runtme: 'enforce' } }),
    /leash\.config\.json: mode: "runtme" is not a module \(did you mean "runtime"\?\)/,
  ],
  [
    'a misspelt mode for every module',
    json({ mode: 'enforced' }),
    /leash\.config\.json: mode: "enforced" is not a mode \(did you mean "enforce"\?\); expected off \| learn \| report \| enforce/,
  ],
  [
    'a misspelt mode for one module',
    json({ mode: { runtime: 'enforced' } }),
    /leash\.config\.json: mode\.runtime: "enforced" is not a mode \(did you mean "enforce"\?\)/,
  ],
  [
    'mode of the wrong type',
    json({ mode: ['enforce'] }),
    /leash\.config\.json: mode: expected a mode \(off \| learn \| report \| enforce\) or an object of modes per module .*, got an array/,
  ],
  [
    'an unknown setting',
    json({ mod: 'learn' }),
    /leash\.config\.json: unknown setting "mod" \(did you mean "mode"\?\); known: policy, mode,/,
  ],
  [
    'an unknown setting of a module',
    json({ csp: { reportPth: '/r' } }),
    /leash\.config\.json: csp: unknown setting "reportPth" \(did you mean "reportPath"\?\)/,
  ],
  [
    'a JSON syntax error',
    { 'leash.config.json': '{\n  "mode": "learn"\n  "policy": "p.json"\n}\n' },
    /leash\.config\.json:3:3: invalid JSON: /,
  ],
  [
    'a typo in leash.config.ts',
    {
      'leash.config.ts':
        "type Config = { mode: Record<string, string> };\nconst config: Config = { mode: { sqll: 'report' } };\nexport default config;\n",
    },
    /leash\.config\.ts: mode: "sqll" is not a module \(did you mean "sql"\?\)/,
  ],
];

for (const [what, files, expected] of typos) {
  test(`${what}: one specific line, exit 2, the service never starts`, async () => {
    assertRefused(await leash(project(files), 'learn'), expected);
  });
}

test('a misspelt module in LEASH_MODE: one specific line, exit 2', async () => {
  const result = await leash(project({}), 'learn', { LEASH_MODE: 'runtime=learn,sqll=report' });
  assertRefused(
    result,
    /LEASH_MODE "sqll=report": "sqll" is not a module \(did you mean "sql"\?\)/,
  );
});

test('enforce without a policy file: one line saying to learn first, exit 2, the service never starts', async () => {
  const dir = project({});
  assertRefused(
    await leash(dir, 'enforce'),
    /^leash: not starting the service: .*leash\.policy\.json: no such policy file, and runtime, sql, csp are in enforce mode, .*leash learn/,
  );
  assert.equal(existsSync(join(dir, 'leash.policy.json')), false);
});

test('the correct forms are accepted: a mode per module with default, and leash.config.ts', async () => {
  const perModule = project(json({ mode: { runtime: 'learn', default: 'off' } }));
  const accepted = await leash(perModule, 'learn');
  assert.equal(accepted.status, 0, accepted.stderr);
  assert.equal(accepted.ran, true);

  const typed = project({
    'leash.config.ts':
      "const config: { policy: string } = { policy: 'typed.policy.json' };\nexport default config;\n",
  });
  const result = await leash(typed, 'learn');
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.ran, true);
  assert.ok(existsSync(join(typed, 'typed.policy.json')), 'leash.config.ts named the policy file');
});
