// The PostgreSQL parser (libpg-query's WASM module) is loaded only when the service loads a
// PostgreSQL driver, and statements that arrive before it is ready wait for it: they are decided
// once it is (learned while learning; allowed or refused under enforce, never let through
// unchecked), in the order they were made, and answer as pg answers.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { BIN, cleanEnv } from '../runtime/helpers.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';
import { run } from '../support/processes.ts';

const SERVICES = {
  pg: fileURLToPath(new URL('./fixtures/pg-early-service.mjs', import.meta.url)),
  'postgres.js': fileURLToPath(
    new URL('./fixtures/postgres-js-early-service.mjs', import.meta.url),
  ),
};
const TEMPLATE_MODULE = new URL('../../src/modules/sql/template.ts', import.meta.url).href;

let postgres: RunningPostgres;
before(async () => {
  postgres = await startPostgres();
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    await client.query('CREATE TABLE notes (owner text, title text)');
    await client.query(
      "INSERT INTO notes VALUES ('ann', 'a1'), ('ann', 'a2'), ('bob', 'b1'), ('cy', 'c1')",
    );
  } finally {
    await client.end();
  }
});
after(() => postgres.stop());

interface Outcome {
  readonly rows?: unknown[];
  readonly error?: string;
}

interface Results {
  readonly readyAtFirst: boolean;
  readonly first: Outcome;
  readonly second: Outcome;
  readonly third: Outcome;
  readonly pooled: Outcome;
  readonly extra?: Outcome;
  readonly order: string[];
  readonly readyAtEnd: boolean;
}

async function under(
  service: string,
  mode: string[],
  cwd: string,
  extra?: string,
): Promise<Results> {
  const { status, stdout, stderr } = await run(
    process.execPath,
    [BIN, ...mode, '--', process.execPath, service],
    {
      cwd,
      env: cleanEnv({
        DATABASE_URL: postgres.url,
        LEASH_TEMPLATE_MODULE: TEMPLATE_MODULE,
        ...(extra === undefined ? {} : { EXTRA: extra }),
      }),
    },
  );
  assert.equal(status, 0, stderr);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Results;
}

async function notes(): Promise<number> {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    return (await client.query('SELECT count(*)::int AS n FROM notes')).rows[0].n as number;
  } finally {
    await client.end();
  }
}

for (const [driver, service] of Object.entries(SERVICES)) {
  test(`${driver}: statements made before the PostgreSQL parser is loaded wait for it: learned, then decided under enforce, in order`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leash-pg-early-'));
    const expected = {
      first: { rows: ['a1', 'a2'] },
      second: { rows: ['b1'] },
      third: { rows: [4] },
      pooled: { rows: ['c1'] },
      order: ['first', 'second', 'third'],
    };
    const answers = (results: Results) => ({
      first: results.first,
      second: results.second,
      third: results.third,
      pooled: results.pooled,
      order: results.order,
    });

    const learned = await under(service, ['learn'], dir);
    assert.equal(learned.readyAtFirst, false, 'the parser was not loaded when the driver was');
    assert.deepEqual(answers(learned), expected);
    assert.equal(learned.readyAtEnd, true);
    const policy = readFileSync(join(dir, 'leash.policy.json'), 'utf8');
    for (const template of [
      'SELECT title FROM notes WHERE owner = $1 ORDER BY title',
      'SELECT (count(*))::int AS n FROM notes',
    ])
      assert.ok(policy.includes(JSON.stringify(template)), `learned ${template}: ${policy}`);

    // Enforce: what was learned passes; a statement never learned is refused before it runs.
    const enforced = await under(service, ['enforce', '--layer=process'], dir, 'DELETE FROM notes');
    assert.equal(enforced.readyAtFirst, false);
    assert.deepEqual(answers(enforced), expected);
    assert.deepEqual(enforced.extra, { error: 'ERR_LEASH_DENIED' });
    assert.equal(await notes(), 4, 'the refused DELETE never ran');
  });
}
