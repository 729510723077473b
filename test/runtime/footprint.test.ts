// What the agent loads into a service that needs little (issue 14, the service's memory): no
// config file, no PostgreSQL, no page learned yet. Parsers and validators are loaded when first
// needed: the PostgreSQL parser when the service loads a PostgreSQL driver, zod for a config
// file or a policy file the fast reader does not take, parse5 for a page being learned, CSP
// Evaluator for `leash policy lint`.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../support/processes.ts';
import { BIN, cleanEnv } from './helpers.ts';

const RECORDER = fileURLToPath(new URL('./fixtures/record-loads.mjs', import.meta.url));
const SERVICE = fileURLToPath(new URL('./fixtures/footprint-service.mjs', import.meta.url));
const ON_DEMAND = ['csp_evaluator', 'libpg-query', 'parse5', 'pgsql-deparser', 'zod'];

test('the agent loads no parser nor validator a service has not needed yet; pg brings the PostgreSQL parser', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leash-footprint-'));
  const { status, stdout, stderr } = await run(
    process.execPath,
    [BIN, 'learn', '--', process.execPath, SERVICE],
    {
      cwd: dir,
      env: cleanEnv({ NODE_OPTIONS: `--import=${RECORDER}` }),
    },
  );
  assert.equal(status, 0, stderr);
  const { atRest, withPg } = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
    atRest: string[];
    withPg: string[];
  };
  // The agent did load its own dependencies (the recorder saw them).
  assert.ok(atRest.includes('pino'), `loaded at rest: ${atRest.join(', ')}`);
  assert.deepEqual(
    ON_DEMAND.filter((name) => atRest.includes(name)),
    [],
    `loaded at rest: ${atRest.join(', ')}`,
  );
  for (const name of ['pg', 'libpg-query', 'pgsql-deparser'])
    assert.ok(withPg.includes(name), `${name} once pg is loaded: ${withPg.join(', ')}`);
});
