/**
 * @module
 * The sql module's kinds, for facts `[scope, template, slot, constraint]`:
 *
 * - `sql-template`: a normalised statement with every literal and parameter lifted into a numbered
 *   slot (`SELECT * FROM notes WHERE id = $1 AND owner = $2`). Matches exactly and never
 *   collapses: injection changes the template, so a new template is a new privilege. A template
 *   without slots ends its rule.
 * - `sql-slot`: `$1`, `$2`, … Exact.
 * - `sql-constraint`: where a slot's value comes from. Keys are:
 *   - `*`: unconstrained;
 *   - a conjunction of equality sources joined by ` & `, sorted: `=principal` (the logged-in user),
 *     `=request.<dotted.path>` (a request input, `=request.params.id`), `=result.<template-id>.<column>`
 *     (a value an earlier query of the same request returned);
 *   - `in ["a","b"]`: one of a few constants (a sorted JSON array of strings);
 *   - an observation (a concrete fact): `{"eq":["=principal"],"v":"42"}`, the sources the value
 *     equalled in one execution and the value itself; build it with `observationFact`.
 *
 * Learning an invariant is a collapse: once at least `threshold` observations of one slot are
 * not already granted by a sibling rule, they and the sibling rules become ONE rule that holds for
 * all of them: the sources that held every time (`=principal & =request.params.id`); else, when no
 * observation equalled any source and there are at most three distinct values, `in [...]`; else `*`.
 * With fewer observations they stay as they are, exact: a slot seen twice allows those two
 * observations only.
 */
import { BoundedCache, KEY_CACHE_LIMIT } from '../bounded-cache.ts';
import type { Collapse, Kind, SimplifyOptions } from '../kind.ts';

const SLOT_IN_TEMPLATE = /\$[1-9][0-9]*(?![0-9])/;
const SLOT_KEY = /^\$[1-9][0-9]*$/;

export interface SqlTemplateKindOptions {
  /** The kind of a template's slots (`sqlSlotKind(sqlConstraintKind())`). */
  readonly slotKind: Kind;
}

export function sqlTemplateKind(options: SqlTemplateKindOptions): Kind {
  const { slotKind } = options;
  return {
    name: 'sql-template',
    // No key of this kind is a pattern, so facts need no escaping.
    key: (fact) => fact,
    matches: (key, fact) => key === fact,
    covers: (outer, inner) => outer === inner,
    isPattern: () => false,
    collapse: () => [],
    child: (key) => (SLOT_IN_TEMPLATE.test(key) ? slotKind : null),
    validate: (key) => (key.trim() === '' ? 'an empty SQL template' : undefined),
    breadth: () => undefined,
  };
}

export function sqlSlotKind(constraintKind: Kind): Kind {
  return {
    name: 'sql-slot',
    key: (fact) => fact,
    matches: (key, fact) => key === fact,
    covers: (outer, inner) => outer === inner,
    isPattern: () => false,
    collapse: () => [],
    child: () => constraintKind,
    validate: (key) => (SLOT_KEY.test(key) ? undefined : `'${key}' is not a slot: write $1, $2, …`),
    breadth: () => undefined,
  };
}

// ---------------------------------------------------------------------------------------------
// Constraints

const ANY = '*';
const ESCAPE = '\\';
const AND = ' & ';
const IN = 'in ';
/** The most constants an `in [...]` rule learns; more distinct values make the slot `*`. */
export const MAX_CONSTANTS = 3;

const SOURCE =
  /^=(?:principal|request(?:\.[A-Za-z0-9_$-]+)+|result\.[A-Za-z0-9_-]+\.[A-Za-z0-9_$-]+)$/;

/** Whether `source` is an equality source: `=principal`, `=request.<path>`, `=result.<id>.<column>`. */
export function isSource(source: string): boolean {
  return SOURCE.test(source);
}

/** One execution's view of a slot: the sources its value equalled, and the value. */
export interface Observation {
  readonly eq: readonly string[];
  readonly v: string;
}

/** The canonical concrete fact for one observation (sources sorted and distinct). */
export function observationFact(observation: Observation): string {
  for (const source of observation.eq) {
    if (!isSource(source)) throw new TypeError(`not an equality source: ${JSON.stringify(source)}`);
  }
  return JSON.stringify({ eq: sortedDistinct(observation.eq), v: String(observation.v) });
}

function sortedDistinct(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

type Constraint =
  | { readonly type: 'any' }
  | { readonly type: 'eq'; readonly sources: readonly string[] }
  | { readonly type: 'in'; readonly values: readonly string[] }
  | { readonly type: 'observation'; readonly eq: readonly string[]; readonly v: string }
  | { readonly type: 'escaped' };

type Parsed =
  | { readonly ok: true; readonly value: Constraint }
  | { readonly ok: false; readonly reason: string };

const bad = (reason: string): Parsed => ({ ok: false, reason });

const SOURCE_HELP = 'expected =principal, =request.<path> or =result.<template>.<column>';

function parseObservation(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad('an observation must be JSON: {"eq":[...],"v":"..."}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return bad('an observation must be a JSON object');
  }
  const { eq, v, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0)
    return bad(`unknown observation fields: ${Object.keys(rest).join(', ')}`);
  if (typeof v !== 'string') return bad('an observation needs "v", the value as a string');
  if (!Array.isArray(eq) || !eq.every((s): s is string => typeof s === 'string')) {
    return bad('an observation needs "eq", an array of sources');
  }
  const unknown = eq.find((s) => !isSource(s));
  if (unknown !== undefined) return bad(`unknown source '${unknown}': ${SOURCE_HELP}`);
  return { ok: true, value: { type: 'observation', eq: sortedDistinct(eq), v } };
}

function parseConstraint(key: string): Parsed {
  if (key === '') return bad('an empty constraint');
  if (key === ANY) return { ok: true, value: { type: 'any' } };
  if (key.startsWith(ESCAPE)) return { ok: true, value: { type: 'escaped' } };
  if (key.startsWith('{')) return parseObservation(key);
  if (key.startsWith(IN)) {
    let values: unknown;
    try {
      values = JSON.parse(key.slice(IN.length));
    } catch {
      return bad('`in` needs a JSON array of strings: in ["a","b"]');
    }
    if (!Array.isArray(values) || !values.every((s): s is string => typeof s === 'string')) {
      return bad('`in` needs a JSON array of strings: in ["a","b"]');
    }
    if (values.length === 0) return bad('`in []` allows nothing; remove the rule instead');
    return { ok: true, value: { type: 'in', values: sortedDistinct(values) } };
  }
  if (key.startsWith('=')) {
    const sources = key.split('&').map((s) => s.trim());
    const unknown = sources.find((s) => !isSource(s));
    if (unknown !== undefined) return bad(`unknown source '${unknown}': ${SOURCE_HELP}`);
    return { ok: true, value: { type: 'eq', sources: sortedDistinct(sources) } };
  }
  return bad(
    `not a constraint: expected *, =<source> [& =<source>...], in [...] or an observation`,
  );
}

function format(c: Constraint): string | undefined {
  switch (c.type) {
    case 'any':
      return ANY;
    case 'eq':
      return c.sources.join(AND);
    case 'in':
      return IN + JSON.stringify(c.values);
    case 'observation':
      return observationFact(c);
    case 'escaped':
      return undefined;
  }
}

/** The sources a key guarantees (for `any` and `in`: none). */
function guaranteed(c: Constraint): readonly string[] {
  if (c.type === 'eq') return c.sources;
  if (c.type === 'observation') return c.eq;
  return [];
}

function allIn(sub: readonly string[], set: readonly string[]): boolean {
  return sub.every((s) => set.includes(s));
}

/** Whether constraint `outer` allows every observation `inner` allows. */
function constraintCovers(outer: Constraint, inner: Constraint): boolean {
  switch (outer.type) {
    case 'any':
      return true;
    case 'eq':
      return (
        (inner.type === 'eq' || inner.type === 'observation') &&
        allIn(outer.sources, guaranteed(inner))
      );
    case 'in':
      return (
        (inner.type === 'in' && allIn(inner.values, outer.values)) ||
        (inner.type === 'observation' && inner.eq.length === 0 && outer.values.includes(inner.v))
      );
    case 'observation':
    case 'escaped':
      return false;
  }
}

export function sqlConstraintKind(): Kind {
  const cache = new BoundedCache<string, Constraint | null>(KEY_CACHE_LIMIT);
  const parsed = (key: string): Constraint | null => {
    let entry = cache.get(key);
    if (entry === undefined) {
      const result = parseConstraint(key);
      entry = result.ok ? result.value : null;
      cache.set(key, entry);
    }
    return entry;
  };
  const keyOf = (fact: string): string => {
    const result = fact.startsWith('{') ? parseObservation(fact) : undefined;
    return result?.ok ? format(result.value)! : ESCAPE + fact;
  };
  const isPattern = (c: Constraint | null): boolean =>
    c !== null && (c.type === 'any' || c.type === 'eq' || c.type === 'in');

  return {
    name: 'sql-constraint',
    key: keyOf,
    matches(key, fact) {
      const k = parsed(key);
      if (k === null) return false;
      if (k.type === 'any') return true;
      if (!isPattern(k)) return key === keyOf(fact);
      const f = fact.startsWith('{') ? parseObservation(fact) : undefined;
      return f?.ok === true && constraintCovers(k, f.value);
    },
    covers(outer, inner) {
      if (outer === inner) return true;
      const o = parsed(outer);
      const i = parsed(inner);
      return o !== null && i !== null && constraintCovers(o, i);
    },
    isPattern: (key) => isPattern(parsed(key)),
    collapse(keys, options) {
      return collapseConstraints(keys, parsed, options);
    },
    child: () => null,
    validate(key) {
      const result = parseConstraint(key);
      if (!result.ok) return result.reason;
      if (result.value.type === 'escaped') {
        // What `key` stores for a fact that is not an observation.
        return keyOf(key.slice(1)) === key
          ? undefined
          : `'${key}' is escaped but is an observation: write it without '\\'`;
      }
      const canonical = format(result.value);
      return canonical === key ? undefined : `not in canonical form: write ${canonical}`;
    },
    // `*` is a legitimate learned result (a slot the route fills from anywhere): nothing to warn.
    breadth: () => undefined,
  };
}

function collapseConstraints(
  keys: readonly string[],
  parsed: (key: string) => Constraint | null,
  options: SimplifyOptions,
): Collapse[] {
  const members: { key: string; c: Constraint }[] = [];
  for (const key of keys) {
    const c = parsed(key);
    if (c !== null && c.type !== 'escaped') members.push({ key, c });
  }
  // Only observations that no sibling rule already grants count towards the threshold: those
  // are the ones that can teach something new.
  const patterns = members.filter((m) => m.c.type !== 'observation');
  const fresh = members.filter(
    (m) => m.c.type === 'observation' && !patterns.some((p) => constraintCovers(p.c, m.c)),
  );
  if (fresh.length < options.threshold) return [];

  let common: readonly string[] | undefined;
  for (const m of members)
    common =
      common === undefined ? guaranteed(m.c) : common.filter((s) => guaranteed(m.c).includes(s));
  let pattern: string;
  if (common !== undefined && common.length > 0) {
    pattern = common.join(AND);
  } else {
    // Constants only when no value ever came from a source: a value that equalled a request
    // input is data, not a constant.
    const values = new Set<string>();
    let constant = true;
    for (const { c } of members) {
      if (c.type === 'observation' && c.eq.length === 0) values.add(c.v);
      else if (c.type === 'in') for (const v of c.values) values.add(v);
      else constant = false;
    }
    pattern =
      constant && values.size <= MAX_CONSTANTS ? IN + JSON.stringify([...values].sort()) : ANY;
  }
  return [{ pattern, members: members.map((m) => m.key) }];
}
