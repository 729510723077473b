// A module declares its own settings (schema and defaults): the config section of its name is
// checked against them (a typo is ERR_LEASH_CONFIG with "did you mean") and laid over the
// defaults, and the module's install() reads the result as host.settings.own. The csp module's
// settings come the same way, their defaults written once.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import { resolveConfig } from '../../src/config/load.ts';
import {
  defineModule,
  isLeashError,
  literalKind,
  type ModuleSettingsDeclaration,
  startAgent,
} from '../../src/index.ts';
import { createLogger } from '../../src/log/logger.ts';
import { DEFAULT_CSP_SETTINGS } from '../../src/modules/csp/settings.ts';

interface QuotaSettings {
  readonly limit: number;
  readonly unit: 'mails' | 'bytes';
}

const quotaSettings: ModuleSettingsDeclaration<QuotaSettings> = {
  schema: z.strictObject({
    limit: z.int().min(1).optional(),
    unit: z.enum(['mails', 'bytes']).optional(),
  }),
  defaults: { limit: 5, unit: 'mails' },
};

const seen: unknown[] = [];
const quota = defineModule({
  name: 'quota',
  description: 'a third-party module with settings of its own',
  positions: ['scope'],
  root: literalKind({ name: 'scope' }),
  settings: quotaSettings,
  install: (host) => {
    seen.push(host.settings.own);
    return undefined;
  },
});
const plain = defineModule({
  name: 'plain',
  description: 'a module without settings',
  positions: ['scope'],
  root: literalKind({ name: 'scope' }),
});

const context = { file: 'leash.config.mjs', cwd: tmpdir(), env: {} };

test('a module section is checked against the module schema and laid over its defaults', () => {
  const config = resolveConfig({ modules: [quota], quota: { limit: 7 } }, context);
  assert.deepEqual(config.moduleSettings?.get('quota'), { limit: 7, unit: 'mails' });
  const defaults = resolveConfig({ modules: [quota] }, context);
  assert.deepEqual(defaults.moduleSettings?.get('quota'), { limit: 5, unit: 'mails' });
});

test('a typo or a bad value in a module section is ERR_LEASH_CONFIG naming the section', () => {
  assert.throws(
    () => resolveConfig({ modules: [quota], quota: { limt: 7 } }, context),
    (e: unknown) =>
      isLeashError(e, 'ERR_LEASH_CONFIG') &&
      e.message ===
        'leash.config.mjs: quota: unknown setting "limt" (did you mean "limit"?); known: limit, unit',
  );
  assert.throws(
    () => resolveConfig({ modules: [quota], quota: { limit: 0 } }, context),
    (e: unknown) => isLeashError(e, 'ERR_LEASH_CONFIG') && /quota\.limit: /.test(e.message),
  );
  // A module without settings has no section; neither does a module that is not loaded.
  for (const raw of [{ modules: [plain], plain: {} }, { quota: { limit: 7 } }]) {
    assert.throws(
      () => resolveConfig(raw, context),
      (e: unknown) => isLeashError(e, 'ERR_LEASH_CONFIG') && /unknown setting/.test(e.message),
    );
  }
});

test("install() reads the module's own settings as host.settings.own", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-settings-'));
  writeFileSync(join(dir, 'leash.policy.json'), '{ "version": 1 }\n');
  const config = resolveConfig(
    { modules: [quota], quota: { unit: 'bytes' }, mode: { quota: 'enforce', default: 'off' } },
    { file: join(dir, 'leash.config.mjs'), cwd: dir, env: {} },
  );
  seen.length = 0;
  const agent = startAgent(config, { autoFlush: false, logger: createLogger({ level: 'silent' }) });
  t.after(() => agent.stop());
  assert.deepEqual(seen, [{ limit: 5, unit: 'bytes' }]);
});

test('the csp settings are the csp module’s own: its defaults, or the config section over them', () => {
  assert.deepEqual(resolveConfig({}, context).csp, DEFAULT_CSP_SETTINGS);
  const own = resolveConfig({ csp: { override: true, tagTtlSeconds: 60 } }, context);
  assert.deepEqual(own.csp, { ...DEFAULT_CSP_SETTINGS, override: true, tagTtlSeconds: 60 });
  assert.deepEqual(own.moduleSettings?.get('csp'), own.csp);
});
