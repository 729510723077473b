/**
 * @module
 * What `leash learn` prints when the command ends: per module, how many rules the policy holds,
 * in how many scopes, and how many of them this run added. On stderr: stdout is the service's.
 */
import { existsSync } from 'node:fs';
import * as policy from '../core/policy.ts';
import type { ModuleRegistry } from '../module/module.ts';
import { createFileStore } from '../store/file-store.ts';
import type { Locality } from '../store/locality.ts';

/** The policy in `file`, or undefined when there is none or it cannot be read (said elsewhere). */
export function policyIfReadable(
  file: string,
  modules: ModuleRegistry,
  locality?: Locality,
): policy.Policy | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return createFileStore({
      file,
      modules,
      ...(locality === undefined ? {} : { locality }),
    }).load();
  } catch {
    return undefined;
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

interface ModuleCount {
  rules: number;
  added: number;
  scopes: Set<string>;
}

/** Per module: rules, the scopes they are in, and how many are not in `had`. */
function countByModule(after: policy.Policy, had: ReadonlySet<string>): Map<string, ModuleCount> {
  const byModule = new Map<string, ModuleCount>();
  for (const rule of policy.allRules(after)) {
    const [module, facts] = rule;
    const entry = byModule.get(module) ?? { rules: 0, added: 0, scopes: new Set<string>() };
    entry.rules++;
    if (!had.has(JSON.stringify(rule))) entry.added++;
    entry.scopes.add(facts[0] ?? '');
    byModule.set(module, entry);
  }
  return byModule;
}

/** The summary lines; `before` is the policy as the run found it (undefined: there was none). */
export function learnSummary(
  before: policy.Policy | undefined,
  after: policy.Policy,
  shownAs: string,
  threshold = 3,
): string {
  const had = new Set(
    before === undefined ? [] : policy.allRules(before).map((r) => JSON.stringify(r)),
  );
  const byModule = countByModule(after, had);
  const total = [...byModule.values()].reduce((n, e) => n + e.rules, 0);
  const added = [...byModule.values()].reduce((n, e) => n + e.added, 0);
  const lines = [
    `leash learn: ${shownAs} holds ${plural(total, 'rule')}, ${added} new in this run${before === undefined ? ' (a new policy)' : ''}`,
  ];
  for (const [module, e] of byModule) {
    lines.push(
      `  ${module}: ${plural(e.rules, 'rule')} in ${plural(e.scopes.size, 'scope')}, ${e.added} new`,
    );
  }
  const exact = exactSlots(after, threshold);
  if (exact.length > 0) {
    const examples = exact
      .slice(0, 3)
      .map((e) => `${e.where}: ${e.seen} of ${threshold}`)
      .join('; ');
    lines.push(
      `  sql: ${plural(exact.length, 'slot')} still exact, allowing only the values seen; send more distinct values to generalise (${examples}${exact.length > 3 ? '; …' : ''})`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `leash policy show --coverage`: what the policy covers, per module (rules, scopes), and every
 * SQL slot still exact, with how many more distinct values would generalise it.
 */
export function coverageReport(p: policy.Policy, shownAs: string, threshold = 3): string {
  const byModule = countByModule(p, new Set());
  const total = [...byModule.values()].reduce((n, e) => n + e.rules, 0);
  const lines = [`${shownAs}: ${plural(total, 'rule')}`];
  for (const [module, e] of byModule)
    lines.push(`  ${module}: ${plural(e.rules, 'rule')} in ${plural(e.scopes.size, 'scope')}`);
  const exact = exactSlots(p, threshold);
  lines.push(
    exact.length === 0
      ? '  sql: no slot is still exact'
      : `  sql: ${plural(exact.length, 'slot')} still exact (only the values seen are allowed):`,
  );
  for (const e of exact)
    lines.push(
      `    ${e.where}: seen ${e.seen}; send ${threshold - e.seen} more distinct value${threshold - e.seen === 1 ? '' : 's'} to generalise`,
    );
  return `${lines.join('\n')}\n`;
}

/**
 * While a long learning run goes on: every `intervalMs`, one line when the policy file has grown
 * (`leash learn: 42 rules so far, 5 new`). Returns how to stop.
 */
export function startProgress(options: {
  file: string;
  modules: ModuleRegistry;
  locality?: Locality;
  before: policy.Policy | undefined;
  intervalMs: number;
  write: (line: string) => void;
}): () => void {
  const had = new Set(
    options.before === undefined
      ? []
      : policy.allRules(options.before).map((r) => JSON.stringify(r)),
  );
  let shown = -1;
  const timer = setInterval(() => {
    const now = policyIfReadable(options.file, options.modules, options.locality);
    if (now === undefined) return;
    const rules = policy.allRules(now);
    if (rules.length === shown) return;
    shown = rules.length;
    const added = rules.filter((r) => !had.has(JSON.stringify(r))).length;
    options.write(`leash learn: ${plural(rules.length, 'rule')} so far, ${added} new\n`);
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** The progress interval: `LEASH_PROGRESS_MS`, else 30 s on a terminal, else none. */
export function progressInterval(env: NodeJS.ProcessEnv, isTTY: boolean): number | undefined {
  const fromEnv = Number(env.LEASH_PROGRESS_MS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  return isTTY ? 30_000 : undefined;
}

/**
 * SQL slots whose values are still only observations (fewer than `threshold` distinct ones): the
 * policy allows exactly those values there until more are seen (docs/policy-format.md, "SQL").
 */
export function exactSlots(
  after: policy.Policy,
  threshold: number,
): Array<{ where: string; seen: number }> {
  const slots = new Map<string, { observed: number; generalised: boolean }>();
  for (const [module, facts] of policy.allRules(after)) {
    if (module !== 'sql' || facts.length < 4) continue;
    const where = `${facts[0]} › ${facts[1]} › ${facts[2]}`;
    const slot = slots.get(where) ?? { observed: 0, generalised: false };
    if (facts[3]!.startsWith('{')) slot.observed++;
    else slot.generalised = true;
    slots.set(where, slot);
  }
  return [...slots]
    .filter(([, s]) => !s.generalised && s.observed < threshold)
    .map(([where, s]) => ({ where, seen: s.observed }));
}
