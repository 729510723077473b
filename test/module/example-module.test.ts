// The module API from a third party's side: the e-mail module of docs/modules.md is loaded from a
// config file, learns, is simplified into the policy file, and then enforces.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mailer } from '../../examples/mail-module/mail-module.ts';
import { countRules, rules } from '../../src/core/tree.ts';
import { isLeashError, loadConfig, startAgent } from '../../src/index.ts';
import { createLogger } from '../../src/log/logger.ts';

const MODULE = fileURLToPath(new URL('../../examples/mail-module/mail-module.ts', import.meta.url));

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-mail-'));
  writeFileSync(
    join(dir, 'leash.config.mjs'),
    `import { mailModule } from ${JSON.stringify(MODULE)};\nexport default { modules: [mailModule], mode: { default: 'off' } };\n`,
  );
  return dir;
}

const silent = createLogger({ level: 'silent' });

test('a third-party module learns into its own policy section and then enforces it', async () => {
  const dir = project();
  const learn = startAgent(await loadConfig({ cwd: dir, env: { LEASH_MODE: 'mail=learn' } }), {
    autoFlush: false,
    logger: silent,
  });
  mailer.scope = 'POST /invite';
  for (const to of ['ann@example.org', 'bob@example.org', 'cy@example.org']) mailer.send(to, 'hi');
  mailer.scope = '@background';
  mailer.send('ops@partner.test', 'report');
  learn.stop();

  const written = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8'));
  assert.deepEqual(written, {
    version: 1,
    mail: { '@background': ['ops@partner.test'], 'POST /invite': ['*@example.org'] },
  });

  const enforce = startAgent(await loadConfig({ cwd: dir, env: { LEASH_MODE: 'mail=enforce' } }), {
    autoFlush: false,
    logger: silent,
  });
  try {
    mailer.sent.length = 0;
    mailer.scope = 'POST /invite';
    mailer.send('dee@example.org', 'hi'); // a new colleague at the learned domain
    assert.throws(
      () => mailer.send('mallory@evil.test', 'hi'),
      (error) =>
        isLeashError(error, 'ERR_LEASH_DENIED') &&
        // The message may reach a client: it names the module and scope, the details the rest.
        error.message.includes('mail use in POST /invite') &&
        !error.message.includes('mallory@evil.test') &&
        JSON.stringify(error.details.facts) === '["POST /invite","mallory@evil.test"]',
    );
    mailer.scope = '@background';
    assert.throws(() => mailer.send('ann@example.org', 'hi'), /ERR_LEASH_DENIED|leash refused/);
    assert.deepEqual(
      mailer.sent.map((m) => m.to),
      ['dee@example.org'],
    );
  } finally {
    enforce.stop();
  }
  const violations = JSON.parse(readFileSync(join(dir, 'leash.violations.json'), 'utf8'));
  assert.deepEqual(
    violations.violations.map((v: { facts: string[]; count: number }) => [v.facts, v.count]),
    [
      [['@background', 'ann@example.org'], 1],
      [['POST /invite', 'mallory@evil.test'], 1],
    ],
  );
});

test('uninstalling a module restores the original API', async () => {
  const dir = project();
  // An empty policy: enforce without any policy file stops at start (ERR_LEASH_POLICY_IO).
  writeFileSync(join(dir, 'leash.policy.json'), '{ "version": 1 }\n');
  const before = mailer.send;
  const agent = startAgent(await loadConfig({ cwd: dir, env: { LEASH_MODE: 'mail=enforce' } }), {
    autoFlush: false,
    logger: silent,
  });
  assert.notEqual(mailer.send, before);
  agent.stop();
  assert.equal(mailer.send, before);
});

test('while learning, the live policy is the saved, simplified one after each flush (bounded)', async () => {
  const dir = project();
  const learn = startAgent(await loadConfig({ cwd: dir, env: { LEASH_MODE: 'mail=learn' } }), {
    autoFlush: false,
    logger: silent,
  });
  try {
    mailer.scope = 'POST /invite';
    for (let i = 0; i < 2000; i++) mailer.send(`user${i}@example.org`, 'hi');
    const live = learn.hosts.get('mail')!.tree;
    assert.equal(countRules(live), 2000, 'raw facts until the flush');
    learn.flush();
    assert.equal(countRules(live), 1);
    assert.deepEqual(rules(live), [['POST /invite', '*@example.org']]);
    // What the live tree now allows is what the file says: nothing is learned twice or lost.
    mailer.send('late@example.org', 'hi');
    assert.equal(countRules(live), 1);
  } finally {
    learn.stop();
  }
  const written = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8'));
  assert.deepEqual(written.mail, { 'POST /invite': ['*@example.org'] });
});
