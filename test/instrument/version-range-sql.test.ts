// Each SQL driver target at the lowest and the highest version of its declared range (issue 10):
// a real service on that version, one `leash learn` then one `leash enforce`. The statement is
// learned with where its argument comes from (the principal), a user never seen while learning
// passes, and an injection is refused before the database runs it. Versions other than the main
// devDependency are installed under npm aliases (`pg-lowest`) and laid out under their real
// names (test/support/aliases.ts); native addons are built for them by scripts/native-addons.mjs.
// PostgreSQL and MariaDB servers are the tests' own, on loopback ports.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startUnder } from '../runtime/helpers.ts';
import { aliasedLayout, resolveIn } from '../support/aliases.ts';
import { type RunningMariaDB, startMariaDB } from '../support/mariadb.ts';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';

const MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

interface DriverCase {
  /** The instrumented packages and the versions a service at this end of the range loads. */
  readonly versions: Readonly<Record<string, string>>;
  readonly fixture: string;
  /** Copies of aliased packages under their real names, and the entry variable's package. */
  readonly layout?: ReadonlyArray<readonly [string, string]>;
  readonly entry?: readonly [variable: string, pkg: string];
  readonly database?: 'postgres' | 'mariadb';
  /** The path of a user's own notes (the `i`th user), its route, the statement it learns (NOTES). */
  readonly notes?: {
    readonly path: (user: string, i: number) => string;
    readonly scope: string;
    readonly statement: string;
    readonly slots: Readonly<Record<string, readonly string[]>>;
  };
}

/** The fixtures of the SQLite drivers and pg: GET /notes, the user's notes by the principal. */
const NOTES: NonNullable<DriverCase['notes']> = {
  path: () => '/notes',
  scope: 'GET /notes',
  statement: 'SELECT id, title FROM notes WHERE owner = $1',
  slots: { $1: ['=principal'] },
};

/** The postgres.js fixture: GET /notes/:id, a note by its id (ann's is 1, as both PostgreSQL
 * fixtures seed them) and owner. */
const NOTES_BY_ID: NonNullable<DriverCase['notes']> = {
  path: (_user, i) => `/notes/${i + 1}`,
  scope: 'GET /notes/:id',
  statement: 'SELECT title FROM notes WHERE id = $1 AND owner = $2',
  slots: { $1: ['=request.params.id'], $2: ['=principal'] },
};

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
    database: 'postgres',
  },
  {
    versions: { pg: '8.23.1', 'pg-pool': '3.14.0' },
    fixture: 'pg-service.mjs',
    database: 'postgres',
  },
  {
    versions: { mysql2: '3.11.5' },
    fixture: 'mysql2-service.mjs',
    layout: [['mysql2', 'mysql2-lowest']],
    entry: ['MYSQL2_ENTRY', 'mysql2'],
    database: 'mariadb',
  },
  { versions: { mysql2: '3.26.1' }, fixture: 'mysql2-service.mjs', database: 'mariadb' },
  {
    versions: { postgres: '3.4.0' },
    fixture: 'postgres-js-service.mjs',
    layout: [['postgres', 'postgres-lowest']],
    entry: ['POSTGRES_ENTRY', 'postgres'],
    database: 'postgres',
    notes: NOTES_BY_ID,
  },
  {
    versions: { postgres: '3.4.10' },
    fixture: 'postgres-js-service.mjs',
    database: 'postgres',
    notes: NOTES_BY_ID,
  },
];

let postgres: RunningPostgres | undefined;
let mariadb: RunningMariaDB | undefined;
before(async () => {
  [postgres, mariadb] = await Promise.all([startPostgres(), startMariaDB()]);
});
after(() => Promise.all([postgres?.stop(), mariadb?.stop()]));

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
    // Each server's drivers share one table (a fixture adds its rows when it is empty).
    if (driver.database === 'postgres') env.DATABASE_URL = postgres!.url;
    if (driver.database === 'mariadb') env.MYSQL_URL = mariadb!.url;
    const notes = driver.notes ?? NOTES;
    const start = (mode: string[]) =>
      startUnder([...mode, '--', process.execPath, service], { cwd: dir, env });

    const learning = await start(['learn']);
    try {
      for (const [i, user] of ['ann', 'bob', 'cy'].entries()) {
        assert.match(
          (await call(learning.base, user, notes.path(user, i))).body,
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
      sql[notes.scope]?.[notes.statement],
      notes.slots,
      JSON.stringify(sql, null, 2),
    );

    const enforcing = await start(['enforce', '--layer=process']);
    try {
      assert.match(
        (await call(enforcing.base, 'dee', notes.path('dee', 3))).body,
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
