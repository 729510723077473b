/**
 * @module
 * The sql module: per route, the statement templates it runs and, per slot, where the value
 * comes from (Passe's data-flow constraints). Facts: [scope, template, slot, constraint].
 * Drivers: node-postgres, postgres.js, node:sqlite, better-sqlite3, sqlite3, mysql2; ORMs and query builders on them
 * come for free.
 */
import { literalKind } from '../../core/kinds/literal.ts';
import { sqlConstraintKind, sqlSlotKind, sqlTemplateKind } from '../../core/kinds/sql.ts';
import { rules } from '../../core/tree.ts';
import { betterSqlite3Instrumentation } from '../../drivers/better-sqlite3/instrument.ts';
import { mysql2Instrumentation } from '../../drivers/mysql2/instrument.ts';
import { instrumentNodeSqlite } from '../../drivers/node-sqlite/instrument.ts';
import { pgInstrumentations } from '../../drivers/pg/instrument.ts';
import { postgresInstrumentation } from '../../drivers/postgres/instrument.ts';
import { sqlite3Instrumentation } from '../../drivers/sqlite3/instrument.ts';
import { UNCOVERED_SQL_DRIVERS } from '../../drivers/uncovered.ts';
import { enableInstrumentations } from '../../instrument/enable.ts';
import type { Instrumentation } from '../../instrument/instrumentation.ts';
import { defineModule } from '../../module/module.ts';
import { createSqlChecker, type SqlChecker } from './check.ts';
import { createStatementCache } from './statement-cache.ts';

/** The drivers patched on the instrumentation layer (node:sqlite, a builtin, is patched directly). */
export function sqlDriverInstrumentations(checker: SqlChecker): Instrumentation[] {
  return [
    ...pgInstrumentations(checker),
    postgresInstrumentation(checker),
    betterSqlite3Instrumentation(checker),
    sqlite3Instrumentation(checker),
    mysql2Instrumentation(checker),
  ];
}

const templateKind = sqlTemplateKind({ slotKind: sqlSlotKind(sqlConstraintKind()) });
const scopeKind = literalKind({ name: 'scope', child: () => templateKind });

/** The `result.<template>.<column>` sources the policy's constraints use. */
export function resultSources(constraints: Iterable<string>): Set<string> {
  const out = new Set<string>();
  const add = (part: string) => {
    if (part.startsWith('=result.')) out.add(part.slice(1));
  };
  for (const constraint of constraints) {
    // An exact observation (a slot seen fewer times than the threshold) names its sources in
    // `eq`: without them remembered, the same request would be refused under enforce.
    const observed = observedSources(constraint);
    if (observed !== undefined) observed.forEach(add);
    else constraint.split(' & ').forEach(add);
  }
  return out;
}

/** The `eq` sources of an observation fact (`{"eq":[…],"v":…}`), or undefined for other keys. */
function observedSources(constraint: string): readonly string[] | undefined {
  if (!constraint.startsWith('{')) return undefined;
  try {
    const { eq } = JSON.parse(constraint) as { eq?: unknown };
    return Array.isArray(eq) ? eq.filter((s): s is string => typeof s === 'string') : undefined;
  } catch {
    return undefined;
  }
}

export const sqlModule = defineModule({
  name: 'sql',
  description: 'SQL statement templates per route, with where each argument comes from',
  positions: ['scope', 'template', 'slot', 'constraint'],
  root: scopeKind,
  notes(tree) {
    // A conjunction means several sources always held while learning: say which, so a person
    // can keep the one the code means (an id equal to both a route param and an earlier result).
    return rules(tree)
      .filter((rule) => rule[3]?.includes(' & '))
      .map(
        (rule) =>
          `ambiguous slot ${rule[2]} of ${JSON.stringify(rule[1])} in ${rule[0]}: every one of ${rule[3]} held`,
      );
  },
  install(host) {
    const cache = createStatementCache({ max: 1000 });
    // While learning every returned value may matter; later only what a constraint names.
    const wanted =
      host.mode === 'learn'
        ? undefined
        : resultSources(rules(host.tree).map((rule) => rule[3] ?? ''));
    const checker = createSqlChecker(
      host,
      cache,
      {
        principal: host.settings.principal,
        headers: host.settings.inputHeaders,
        maxRemembered: host.settings.maxRememberedValues,
      },
      wanted,
    );
    const uninstalls = [
      instrumentNodeSqlite(checker),
      enableInstrumentations(sqlDriverInstrumentations(checker), UNCOVERED_SQL_DRIVERS, {
        mode: host.mode,
        warn: (message) => host.log.warn({ event: 'unpatched' }, message),
        ignoreUnpatched: host.settings.ignoreUnpatched,
        refuse: host.refuseToStart,
      }),
    ];
    return () => {
      for (const uninstall of uninstalls.reverse()) uninstall();
    };
  },
});
