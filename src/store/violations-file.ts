/**
 * @module
 * The violations file (`leash.violations.json`): what report and enforce mode refused or would
 * have refused, kept for review and never added to the policy by itself (DESIGN.md, "Modes").
 *
 * ```json
 * {
 *   "version": 1,
 *   "violations": [
 *     {
 *       "module": "runtime",
 *       "facts": ["GET /notes/:id", "app", "fs.read", "/etc/passwd"],
 *       "mode": "enforce",
 *       "count": 3,
 *       "firstSeen": "2026-08-01T10:00:00.000Z",
 *       "lastSeen": "2026-08-01T10:05:00.000Z",
 *       "nearest": ["GET /notes/:id", "app", "fs.read", "/srv/app/views/note.html"]
 *     }
 *   ]
 * }
 * ```
 *
 * One record per (module, facts, mode), sorted by module, then facts, then mode.
 */
import { type AnyNode, evaluate, parse as parseJson } from '@humanwhocodes/momoa';
import { lazy, zod } from '../config/zod.ts';
import { LeashError } from '../errors.ts';
import { jsonPath } from './policy-file.ts';
import type { ViolationRecord } from './store.ts';

export const VIOLATIONS_VERSION = 1;

/** The file's schema, made when a violations file is first read (see config/zod.ts). */
const fileSchema = lazy(() => {
  const z = zod();
  const strings = z.array(z.string().min(1, 'expected a non-empty string'));

  const recordSchema = z
    .strictObject({
      module: z.string().min(1, 'expected a module name'),
      facts: strings.min(1, 'expected at least one fact'),
      mode: z.enum(['report', 'enforce'], { error: 'expected "report" or "enforce"' }),
      count: z.int('expected a whole number').positive('expected a count of at least 1'),
      firstSeen: z.iso.datetime({
        offset: true,
        error: 'expected an ISO date-time such as "2026-08-01T10:00:00.000Z"',
      }),
      lastSeen: z.iso.datetime({
        offset: true,
        error: 'expected an ISO date-time such as "2026-08-01T10:00:00.000Z"',
      }),
      nearest: strings.optional(),
    })
    .refine((r) => Date.parse(r.firstSeen) <= Date.parse(r.lastSeen), {
      message: 'firstSeen is later than lastSeen',
      path: ['firstSeen'],
    });

  return z.strictObject({
    $schema: z.string().optional(),
    version: z.literal(VIOLATIONS_VERSION, {
      error: (issue) =>
        issue.input === undefined
          ? `missing "version": expected "version": ${VIOLATIONS_VERSION}`
          : `unknown version ${JSON.stringify(issue.input)}: this leash reads version ${VIOLATIONS_VERSION}`,
    }),
    violations: z.array(recordSchema, { error: 'expected "violations": an array of records' }),
  });
});

/** Parses and validates the violations file's text. Throws a `LeashError` naming file:line:col. */
export function parseViolations(text: string, file: string): ViolationRecord[] {
  let body: AnyNode;
  try {
    body = parseJson(text, { mode: 'json', ranges: false }).body;
  } catch (error) {
    const e = error as Error & { line?: number; column?: number };
    const line = e.line ?? 1;
    const column = e.column ?? 1;
    const reason = e.message.replace(/ \(\d+:\d+\)$/, '');
    throw new LeashError(
      'ERR_LEASH_POLICY_PARSE',
      `${file}:${line}:${column}: invalid JSON: ${reason}`,
      {
        file,
        line,
        column,
      },
    );
  }
  const result = fileSchema().safeParse(evaluate(body));
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    const { line, column } = nodeAt(body, path).loc.start;
    const where = jsonPath(path);
    throw new LeashError(
      'ERR_LEASH_POLICY_SCHEMA',
      `${file}:${line}:${column}: ${where}: ${issue.message}`,
      {
        file,
        line,
        column,
        jsonPath: where,
      },
    );
  }
  return result.data.violations.map((r) => {
    const { nearest, ...rest } = r;
    return nearest === undefined ? rest : { ...rest, nearest };
  });
}

/** Serialises records sorted, one field per line and facts on one line, for readable diffs. */
export function serializeViolations(records: readonly ViolationRecord[]): string {
  const sorted = [...records].sort(compareRecords);
  if (sorted.length === 0) return `{\n  "version": ${VIOLATIONS_VERSION},\n  "violations": []\n}\n`;
  const list = (xs: readonly string[]): string =>
    `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  const items = sorted.map((r) => {
    const fields = [
      `"module": ${JSON.stringify(r.module)}`,
      `"facts": ${list(r.facts)}`,
      `"mode": ${JSON.stringify(r.mode)}`,
      `"count": ${r.count}`,
      `"firstSeen": ${JSON.stringify(r.firstSeen)}`,
      `"lastSeen": ${JSON.stringify(r.lastSeen)}`,
    ];
    if (r.nearest !== undefined) fields.push(`"nearest": ${list(r.nearest)}`);
    return `    {\n${fields.map((f) => `      ${f}`).join(',\n')}\n    }`;
  });
  return `{\n  "version": ${VIOLATIONS_VERSION},\n  "violations": [\n${items.join(',\n')}\n  ]\n}\n`;
}

/**
 * The most records the file keeps. Refusals of distinct facts (an attacker probing paths) would
 * otherwise grow it without bound; what recurs stays, because it is seen again.
 */
export const MAX_VIOLATION_RECORDS = 1000;

/**
 * Merges records by (module, facts, mode): counts add, `firstSeen` is the earliest, `lastSeen`
 * the latest, and `nearest` comes from the latest sighting that has one. Beyond `max` records,
 * those seen least recently are dropped. Returns them sorted.
 */
export function mergeViolations(
  current: readonly ViolationRecord[],
  added: readonly ViolationRecord[],
  max = MAX_VIOLATION_RECORDS,
): ViolationRecord[] {
  const byKey = new Map<string, ViolationRecord>();
  for (const r of [...current, ...added]) {
    const key = violationKey(r.module, r.facts, r.mode);
    const e = byKey.get(key);
    byKey.set(key, e === undefined ? r : combine(e, r));
  }
  let records = [...byKey.values()];
  if (records.length > max) {
    records = records
      .sort((a, b) => Date.parse(b.lastSeen) - Date.parse(a.lastSeen) || b.count - a.count)
      .slice(0, max);
  }
  return records.sort(compareRecords);
}

export function violationKey(module: string, facts: readonly string[], mode: string): string {
  return JSON.stringify([module, mode, facts]);
}

function combine(a: ViolationRecord, b: ViolationRecord): ViolationRecord {
  const [older, newer] = Date.parse(b.lastSeen) >= Date.parse(a.lastSeen) ? [a, b] : [b, a];
  const nearest = newer.nearest ?? older.nearest;
  const out: ViolationRecord = {
    module: a.module,
    facts: a.facts,
    mode: a.mode,
    count: a.count + b.count,
    firstSeen: Date.parse(b.firstSeen) < Date.parse(a.firstSeen) ? b.firstSeen : a.firstSeen,
    lastSeen: newer.lastSeen,
  };
  return nearest === undefined ? out : { ...out, nearest };
}

function compareRecords(a: ViolationRecord, b: ViolationRecord): number {
  return compare(a.module, b.module) || compareLists(a.facts, b.facts) || compare(a.mode, b.mode);
}

function compareLists(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compare(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The AST node at a path, or the deepest one that exists. */
function nodeAt(body: AnyNode, path: readonly (string | number)[]): AnyNode {
  let node = body;
  for (const step of path) {
    if (node.type === 'Object') {
      const member = node.members.find(
        (m) => (m.name.type === 'String' ? m.name.value : m.name.name) === step,
      );
      if (member === undefined) return node;
      node = member.value;
    } else if (
      node.type === 'Array' &&
      typeof step === 'number' &&
      node.elements[step] !== undefined
    ) {
      node = node.elements[step].value;
    } else return node;
  }
  return node;
}
