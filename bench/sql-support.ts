/**
 * @module
 * ==============================================================================================
 *  SQL MODULE PLUG-IN POINT
 * ==============================================================================================
 * Everything the benchmarks need from the sql module (src/modules/sql/) goes through the two
 * functions below, so that a change of that module's internals is fixed here and nowhere else:
 *
 * - `sqlModuleStatus()`: whether `src/modules/sql/module.ts` can be imported. When it cannot,
 *   the runner prints "sql module not available yet" and skips the SQL micro-benchmarks and the
 *   PostgreSQL variant of the service benchmark; everything else runs.
 * - `sqlDecisionCases()`: the decision cost of one statement, through the module's own checker
 *   (`createSqlChecker`), statement cache (`createStatementCache`) and parsers
 *   (`prepareSqlParsers`), in enforce mode, on a policy learned by the same checker in learn mode:
 *   a cached statement (its text seen before: a map lookup, then the slot checks) and a
 *   first-seen one (the cache emptied first: parse into a template, then the checks), for SQLite
 *   and PostgreSQL. Returns undefined, with the reason, when any of it is missing.
 */
import { createHost, type HostSink } from '../src/agent/host.ts';
import { lazyUse } from '../src/attribution/package-of.ts';
import { packageResolver } from '../src/attribution/resolver.ts';
import { currentScope, runInRequest } from '../src/attribution/scope.ts';
import { DEFAULT_SIMPLIFY_OPTIONS } from '../src/core/kind.ts';
import { createTree } from '../src/core/tree.ts';
import { createLogger } from '../src/log/logger.ts';
import type { LeashModule, UseContext } from '../src/module/module.ts';
import { keep, type MicroCase } from './lib/micro.ts';

export type SqlStatus = { available: true } | { available: false; reason: string };

const firstLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unknown';

/** Whether the sql module can be imported (it is being finished elsewhere). */
export async function sqlModuleStatus(): Promise<SqlStatus> {
  try {
    const loaded = (await import('../src/modules/sql/module.ts')) as { sqlModule?: unknown };
    if (loaded.sqlModule === undefined) return { available: false, reason: 'no sqlModule export' };
    return { available: true };
  } catch (error) {
    return { available: false, reason: firstLine(error) };
  }
}

interface SqlPieces {
  sqlModule: LeashModule;
  createSqlChecker: (
    host: unknown,
    cache: unknown,
    settings: unknown,
    wanted: ReadonlySet<string> | undefined,
  ) => { check(dialect: string, sql: string, params: { positional: readonly unknown[] }): unknown };
  createStatementCache: (options?: { max?: number }) => { clear(): void };
  prepareSqlParsers: () => Promise<void>;
}

async function loadPieces(): Promise<SqlPieces> {
  const [module, check, template] = await Promise.all([
    import('../src/modules/sql/module.ts'),
    import('../src/modules/sql/check.ts'),
    import('../src/modules/sql/template.ts'),
  ]);
  const pieces = {
    sqlModule: (module as Record<string, unknown>).sqlModule,
    createSqlChecker: (check as Record<string, unknown>).createSqlChecker,
    createStatementCache: (template as Record<string, unknown>).createStatementCache,
    prepareSqlParsers: (template as Record<string, unknown>).prepareSqlParsers,
  };
  for (const [name, value] of Object.entries(pieces)) {
    if (value === undefined) throw new Error(`the sql module has no ${name}`);
  }
  return pieces as unknown as SqlPieces;
}

/** The statements: what GET /notes/:id of the example runs, in each dialect. */
const STATEMENTS = {
  sqlite:
    'SELECT id, owner, title, body FROM notes WHERE id = ? AND (owner = ? OR id IN (SELECT note_id FROM shares WHERE user_name = ?))',
  postgres:
    'SELECT id, owner, title, body FROM notes WHERE id = $1 AND (owner = $2 OR id IN (SELECT note_id FROM shares WHERE user_name = $3))',
} as const;

/** Micro-benchmark cases of the SQL decision, or the reason there are none. */
export async function sqlDecisionCases(): Promise<MicroCase[] | { unavailable: string }> {
  let pieces: SqlPieces;
  try {
    pieces = await loadPieces();
    await pieces.prepareSqlParsers();
  } catch (error) {
    return { unavailable: firstLine(error) };
  }
  const { sqlModule, createSqlChecker, createStatementCache } = pieces;
  const scope = 'GET /notes/:id';
  const use: UseContext = { scope, package: 'app' };
  const request = {
    method: 'GET',
    url: '/notes/42',
    params: { id: '42' },
    query: {},
    body: {},
    headers: {},
    session: { user: 'erin' },
  };
  const state = { scope, request, principal: 'erin' };
  const settings = { principal: 'req.session.user', headers: [], maxRemembered: 100 };
  const hostSettings = {
    principal: 'req.session.user',
    inputHeaders: [],
    maxRememberedValues: 100,
  };
  const logger = createLogger({ level: 'silent' });
  const sink: HostSink = { learn: () => true, learnRule: () => true, recordViolation: () => {} };
  const tree = createTree(sqlModule.root);
  const hostIn = (mode: 'learn' | 'enforce', useOf: () => UseContext = () => use) =>
    createHost({
      module: sqlModule,
      mode,
      tree,
      policyFile: 'bench.policy.json',
      simplify: DEFAULT_SIMPLIFY_OPTIONS,
      sink,
      logger,
      appRoot: '/srv/app',
      use: useOf,
      settings: hostSettings,
    });
  const params = { positional: [42, 'erin', 'erin'] };
  try {
    // Learn the statements, then check them in enforce mode against what was learned.
    const learnCache = createStatementCache({ max: 1000 });
    const learner = createSqlChecker(hostIn('learn'), learnCache, settings, undefined);
    for (const [dialect, sql] of Object.entries(STATEMENTS)) {
      runInRequest(state, () => learner.check(dialect, sql, params));
    }
    const cache = createStatementCache({ max: 1000 });
    const enforcer = createSqlChecker(hostIn('enforce'), cache, settings, new Set());
    for (const [dialect, sql] of Object.entries(STATEMENTS)) {
      runInRequest(state, () => enforcer.check(dialect, sql, params));
    }
    // As the agent runs it: the scope from AsyncLocalStorage, the package from the stack when
    // something reads it (lazyUse: an allowed statement never does).
    const packages = packageResolver();
    const attributed = createSqlChecker(
      hostIn('enforce', () => lazyUse(currentScope(), packages)),
      createStatementCache({ max: 1000 }),
      settings,
      new Set(),
    );
    const cases: MicroCase[] = [
      {
        group: 'decision: sql statement',
        name: "sqlite, cached, with the agent's attribution (read only if refused)",
        batch: 100,
        fn: () =>
          runInRequest(state, () => {
            for (let i = 0; i < 100; i++)
              keep(attributed.check('sqlite', STATEMENTS.sqlite, params));
          }),
      },
    ];
    for (const [dialect, sql] of Object.entries(STATEMENTS)) {
      cases.push({
        group: 'decision: sql statement',
        name: `${dialect}, cached`,
        batch: 100,
        target: 'sql-cached',
        fn: () =>
          runInRequest(state, () => {
            for (let i = 0; i < 100; i++) keep(enforcer.check(dialect, sql, params));
          }),
      });
      cases.push({
        group: 'decision: sql statement',
        name: `${dialect}, first seen (parsed)`,
        batch: 10,
        fn: () =>
          runInRequest(state, () => {
            for (let i = 0; i < 10; i++) {
              cache.clear();
              keep(enforcer.check(dialect, sql, params));
            }
          }),
      });
    }
    return cases;
  } catch (error) {
    return { unavailable: firstLine(error) };
  }
}
