// One conformance suite for every HTTP adapter (node:http, Express 5, Fastify 5): privilege uses
// are attributed to the route template, unknown paths to @unmatched (a plain server, which has no
// route table, gets its normalised path), and an enforced refusal happens before the effect.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { get, startUnder } from '../runtime/helpers.ts';

const ADAPTERS = [
  { name: 'node:http', fixture: 'http-service.mjs', unmatched: 'GET /nope/deeper' },
  { name: 'Express 5', fixture: 'express-service.mjs', unmatched: '@unmatched' },
  { name: 'Fastify 5', fixture: 'fastify-service.mjs', unmatched: '@unmatched' },
] as const;

for (const adapter of ADAPTERS) {
  test(`${adapter.name}: scope is the route template, unknown paths are ${adapter.unmatched}, refusals come first`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leash-adapter-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    for (const name of ['1', '2', '3', '4', 'fallback.txt'])
      writeFileSync(join(dataDir, name), `note ${name}`);
    writeFileSync(join(dir, 'leash.config.json'), JSON.stringify({ dataDirs: ['./data'] }));
    const service = fileURLToPath(new URL(`./fixtures/${adapter.fixture}`, import.meta.url));
    const env = { DATA_DIR: dataDir };

    const learning = await startUnder(['learn', '--', process.execPath, service], {
      cwd: dir,
      env,
    });
    for (const id of ['1', '2', '3'])
      assert.equal((await get(learning.base, `/notes/${id}`)).body, `note ${id}`);
    assert.equal((await get(learning.base, '/nope/deeper')).status, 404);
    await learning.stop();

    const runtime = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).runtime;
    assert.deepEqual(
      runtime['GET /notes/:id']?.app?.['fs.read'],
      [`${dataDir}/*`],
      JSON.stringify(runtime, null, 2),
    );
    assert.deepEqual(
      runtime[adapter.unmatched]?.app?.['fs.read'],
      [`${dataDir}/fallback.txt`],
      Object.keys(runtime).join(', '),
    );

    const enforcing = await startUnder(['enforce', '--', process.execPath, service], {
      cwd: dir,
      env,
    });
    try {
      assert.equal((await get(enforcing.base, '/notes/4')).body, 'note 4');
      const refused = await get(
        enforcing.base,
        `/notes/${encodeURIComponent('../../../../etc/hostname')}`,
      );
      assert.match(refused.body, /ERR_LEASH_DENIED|ERR_ACCESS_DENIED/);
    } finally {
      await enforcing.stop();
    }
  });
}
