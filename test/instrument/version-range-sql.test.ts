// Each SQL driver target at the lowest and the highest version of its declared range (issue 10):
// a real service on that version, one `leash learn` then one `leash enforce`. The statement is
// learned with where its argument comes from (the principal), a user never seen while learning
// passes, and an injection is refused before the database runs it. Versions other than the main
// devDependency are installed under npm aliases (`pg-lowest`) and laid out under their real
// names (test/support/aliases.ts); native addons are built for them by scripts/native-addons.mjs.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';
import { aliasedLayout, resolveIn } from '../support/aliases.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';

const MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

interface DriverCase {
  /** The instrumented packages and the versions a service at this end of the range loads. */
  readonly versions: Readonly<Record<string, string>>;
  readonly fixture: string;
  /** Copies of aliased packages under their real names, and the entry variable's package. */
  readonly layout?: ReadonlyArray<readonly [string, string]>;
  readonly entry?: readonly [variable: string, pkg: string];
  readonly postgres?: true;
}

const DRIVERS: readonly DriverCase[] = [
  {
    versions: { 'better-sqlite3': '12.8.0' },
    fixture: 'better-sqlite3-service.mjs',
    layout: [['better-sqlite3', 'better-sqlite3-lowest']],
    entry: ['BETTER_SQLITE3_ENTRY', 'better-sqlite3'],
  },
  {
    versions: { 'better-sqlite3': '13.2.0' },
    fixture: 'better-sqlite3-service.mjs',
    layout: [['better-sqlite3', 'better-sqlite3-highest']],
    entry: ['BETTER_SQLITE3_ENTRY', 'better-sqlite3'],
  },
  {
    versions: { sqlite3: '5.0.0' },
    fixture: 'sqlite3-service.mjs',
    layout: [['sqlite3', 'sqlite3-lowest']],
    entry: ['SQLITE3_ENTRY', 'sqlite3'],
  },
  { versions: { sqlite3: '5.1.7' }, fixture: 'sqlite3-service.mjs' },
  {
    versions: { pg: '8.0.3', 'pg-pool': '3.1.1' },
    fixture: 'pg-service.mjs',
    layout: [
      ['pg', 'pg-lowest'],
      ['pg-pool', 'pg-pool-lowest'],
    ],
    entry: ['PG_ENTRY', 'pg'],
    postgres: true,
  },
  { versions: { pg: '8.23.1', 'pg-pool': '3.14.0' }, fixture: 'pg-service.mjs', postgres: true },
];

let postgres: RunningPostgres | undefined;
before(async () => {
  postgres = await startPostgres();
});
after(() => postgres?.stop());

async function call(base: string, user: string, path: string) {
  const response = await fetch(new URL(path, base), { headers: { 'x-user': user } });
  return { status: response.status, body: await response.text() };
}

for (const driver of DRIVERS) {
  const name = Object.entries(driver.versions)
    .map(([pkg, version]) => `${pkg} ${version}`)
    .join(', ');
  test(`${name}: a statement is learned with the principal, a new user passes, an injection is refused`, async () => {
    const modules = driver.layout === undefined ? MODULES : aliasedLayout(driver.layout);
    for (const [pkg, version] of Object.entries(driver.versions))
      assert.equal(
        JSON.parse(readFileSync(join(modules, pkg, 'package.json'), 'utf8')).version,
        version,
      );
    const service = fileURLToPath(new URL(`../sql/fixtures/${driver.fixture}`, import.meta.url));
    const dir = mkdtempSync(join(tmpdir(), 'leash-version-sql-'));
    const dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    writeFileSync(
      join(dir, 'leash.config.json'),
      JSON.stringify({ principal: 'req.user', dataDirs: ['./data'] }),
    );
    const env: NodeJS.ProcessEnv = { DATA_DIR: dataDir };
    if (driver.entry !== undefined) env[driver.entry[0]] = resolveIn(modules, driver.entry[1]);
    // Both pg versions use the same table (the fixture adds its rows when it is empty).
    if (driver.postgres === true) env.DATABASE_URL = postgres!.url;
    const start = (mode: string[]) =>
      startUnder([...mode, '--', process.execPath, service], { cwd: dir, env });

    const learning = await start(['learn']);
    try {
      for (const user of ['ann', 'bob', 'cy']) {
        assert.match(
          (await call(learning.base, user, '/notes')).body,
          new RegExp(`${user}'s note`),
        );
        assert.equal((await call(learning.base, user, `/find?title=plans-of-${user}`)).status, 200);
      }
    } finally {
      await learning.stop();
    }
    assert.doesNotMatch(learning.stderr(), /is not supported|was loaded before leash/);
    const sql = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8')).sql;
    assert.deepEqual(
      sql['GET /notes']?.['SELECT id, title FROM notes WHERE owner = $1'],
      { $1: ['=principal'] },
      JSON.stringify(sql, null, 2),
    );

    const enforcing = await start(['enforce', '--layer=process']);
    try {
      assert.match(
        (await call(enforcing.base, 'dee', '/notes')).body,
        /dee's note/,
        'a user never seen while learning',
      );
      assert.equal((await call(enforcing.base, 'dee', '/find?title=other')).status, 200);
      const injected = await call(
        enforcing.base,
        'dee',
        `/find?title=${encodeURIComponent("x' OR '1'='1")}`,
      );
      assert.deepEqual(injected, { status: 500, body: 'ERR_LEASH_DENIED' });
    } finally {
      await enforcing.stop();
    }
  });
}
