/**
 * @module
 * The sql module's decision for one statement, cached and first seen, SQLite and PostgreSQL.
 * Built through bench/sql-support.ts (the plug-in point); prints "sql module not available yet"
 * and no results while src/modules/sql/ cannot be used.
 */
import { emit, isQuick, microOptions, runMicro } from './lib/micro.ts';
import { sqlDecisionCases } from './sql-support.ts';

export async function sqlBench(quick: boolean) {
  const cases = await sqlDecisionCases();
  if (!Array.isArray(cases)) {
    process.stderr.write(`sql module not available yet (${cases.unavailable}); skipped\n`);
    return { micro: [], growth: [], notes: [`sql module not available yet: ${cases.unavailable}`] };
  }
  return { micro: await runMicro(cases, microOptions(quick)), growth: [], notes: [] };
}

if (import.meta.main) emit(await sqlBench(isQuick()));
