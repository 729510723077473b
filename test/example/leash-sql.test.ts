// leash's sql module on the example service, on embedded SQLite and on a real PostgreSQL started
// for the test: learn from the learning workload, then enforce. The held-out workload must pass
// untouched and every SQL attack must be refused before it reaches the database (the database is
// compared before and after). Loopback only.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort, startExample } from '../../examples/service/start.ts';
import { legacyHash, SEED_USERS } from '../../examples/service/users.ts';
import {
  heldOutWorkload,
  learningWorkload,
  snapshotDatabase,
  sqlAttacks,
} from '../../examples/service/workload.ts';
import { startPostgres } from '../support/postgres.ts';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));
const SERVICE_DIR = fileURLToPath(new URL('../../examples/service/', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

for (const database of ['sqlite', 'postgres'] as const) {
  test(`${database}: after learning, enforce refuses every SQL attack before the database and passes the held-out workload`, async () => {
    const work = mkdtempSync(join(tmpdir(), `leash-sql-${database}-`));
    const dataDir = join(work, 'data');
    const policyFile = join(work, 'leash.policy.json');
    let databaseUrl: string | undefined;
    if (database === 'postgres') {
      const pg = await startPostgres();
      cleanups.push(() => pg.stop());
      databaseUrl = pg.url;
    }
    const ports = { server: await freePort(), partner: await freePort() };
    const start = (mode: string) =>
      startExample({
        dataDir,
        cwd: SERVICE_DIR,
        ports,
        ...(databaseUrl === undefined ? {} : { databaseUrl }),
        env: { LEASH_CONFIG: '', LEASH_MODE: '', NO_COLOR: '1' },
        wrap: (command) => [process.execPath, BIN, mode, '--policy', policyFile, '--', ...command],
      });

    const learning = await start('learn');
    try {
      assert.deepEqual((await learningWorkload(learning.base)).failures, []);
    } finally {
      await learning.stop();
    }
    // The policy is meant for git: no password, password hash or e-mail of the workload in it.
    const policyText = readFileSync(policyFile, 'utf8');
    const { users } = await snapshotDatabase({ dataDir, databaseUrl });
    const secrets = [
      ...SEED_USERS.flatMap((u) => [u.password, legacyHash(u.password)]),
      ...users.flatMap((u) => [u.password_hash, u.legacy_hash, ...u.password_hash.split(':')]),
    ];
    assert.ok(users.length >= SEED_USERS.length, 'the database has the seeded users');
    for (const secret of secrets)
      assert.ok(!policyText.includes(secret), `the policy contains a secret: ${secret}`);
    assert.doesNotMatch(policyText, /[^\s@"]+@[^\s@"]+\.[a-z]{2,}/i, 'no e-mail address');
    const sql = JSON.parse(policyText).sql as Record<
      string,
      Record<string, Record<string, string[]>>
    >;
    assert.ok(sql, 'the sql section was learned');
    const idor = Object.entries(sql['GET /notes-legacy/:id'] ?? {}).find(([template]) =>
      /WHERE id = \$1$/i.test(template),
    );
    assert.ok(
      idor,
      `templates of GET /notes-legacy/:id: ${Object.keys(sql['GET /notes-legacy/:id'] ?? {}).join(' | ')}`,
    );
    assert.ok(
      idor[1].$1!.some((constraint) => constraint.includes('=result.')),
      `the id must come from the user's own notes: ${JSON.stringify(idor[1])}`,
    );

    const enforcing = await start('enforce');
    try {
      const held = await heldOutWorkload(enforcing.base);
      assert.deepEqual(held.failures, [], enforcing.output().stderr.slice(-3000));
      const location = { dataDir, databaseUrl };
      const before = await snapshotDatabase(location);
      for (const attack of sqlAttacks(enforcing.base, location)) {
        const outcome = await attack.run();
        assert.equal(outcome.succeeded, false, `${attack.name} got through: ${outcome.evidence}`);
      }
      assert.deepEqual(
        await snapshotDatabase(location),
        before,
        'no row changed and no table created',
      );
    } finally {
      await enforcing.stop();
    }
    const refused = enforcing
      .output()
      .stderr.split('\n')
      .filter((line) => line.includes('"event":"violation"') && line.includes('"module":"sql"'))
      .map((line) => JSON.parse(line).facts[0] as string);
    for (const route of [
      'POST /login-legacy',
      'GET /search-legacy',
      'POST /notes/:id/rename-legacy',
      'GET /notes-legacy/:id',
      'PUT /notes-legacy/:id',
    ]) {
      assert.ok(
        refused.includes(route),
        `no sql refusal logged for ${route}: ${refused.join(', ')}`,
      );
    }
  });
}
