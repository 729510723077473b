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
 *     equalled in one execution and the value itself; build it with `observationFact`. A value
 *     that must not be written in clear (it came from a source, or looks secret) is observed as
 *     its digest instead: `{"eq":["=request.body.password"],"h":"Qx"}`. A digest observation is
 *     exact like any other, but never becomes a constant of `in [...]`.
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
export const MAX_CONSTANTS = 16;

/**
 * How a value may be derived from a request input, written `=request.query.q|contains`. Each is
 * weaker than plain equality, which implies it: the value equals the input, or
 * - `contains`, `prefix`, `suffix`: the input wrapped for LIKE (`%q%`, `q%`, `%q`);
 * - `trim`: the input without surrounding white space (implies `lower`);
 * - `lower`: the input up to letter case;
 * - `number`: the number written in the input (`12.5` from `$12.50`, `42` from `item-42`).
 */
export const TRANSFORMS = ['contains', 'prefix', 'suffix', 'trim', 'lower', 'number'] as const;
export type Transform = (typeof TRANSFORMS)[number];

const SOURCE = new RegExp(
  `^=(?:principal|request(?:\\.[A-Za-z0-9_$-]+)+(?:\\|(?:${TRANSFORMS.join('|')}))?|result\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_$-]+)$`,
);

/**
 * Whether `source` is an equality source: `=principal`, `=request.<path>` (optionally
 * `|<transform>`), `=result.<id>.<column>`.
 */
export function isSource(source: string): boolean {
  return SOURCE.test(source);
}

/**
 * The sources that hold whenever these do: plain equality to an input implies each transform, and
 * `trim` implies `lower` (which ignores case and surrounding white space).
 */
function implied(sources: readonly string[]): readonly string[] {
  if (!sources.some((s) => s.startsWith('=request.'))) return sources;
  const out = new Set(sources);
  for (const s of sources) {
    if (!s.startsWith('=request.')) continue;
    if (!s.includes('|')) for (const t of TRANSFORMS) out.add(`${s}|${t}`);
    else if (s.endsWith('|trim')) out.add(`${s.slice(0, -'trim'.length)}lower`);
  }
  return [...out];
}

/** The fewest sources saying as much: `=request.q|lower` goes when `=request.q` is there. */
function strongest(sources: readonly string[]): string[] {
  const set = new Set(sources);
  return sources.filter((s) => {
    const bar = s.indexOf('|');
    if (bar === -1) return true;
    const input = s.slice(0, bar);
    return !set.has(input) && !(s.endsWith('|lower') && set.has(`${input}|trim`));
  });
}

/** One execution's view of a slot: the sources its value equalled, and the value or its digest. */
export type Observation =
  | { readonly eq: readonly string[]; readonly v: string; readonly h?: undefined }
  | { readonly eq: readonly string[]; readonly h: string; readonly v?: undefined };

const DIGEST = /^[A-Za-z0-9_-]{1,64}$/;

/** The canonical concrete fact for one observation (sources sorted and distinct). */
export function observationFact(observation: Observation): string {
  for (const source of observation.eq) {
    if (!isSource(source)) throw new TypeError(`not an equality source: ${JSON.stringify(source)}`);
  }
  const eq = sortedDistinct(observation.eq);
  if (observation.h !== undefined) {
    if (!DIGEST.test(observation.h))
      throw new TypeError(`not a digest: ${JSON.stringify(observation.h)}`);
    return JSON.stringify({ eq, h: observation.h });
  }
  return JSON.stringify({ eq, v: String(observation.v) });
}

function sortedDistinct(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

type Constraint =
  | { readonly type: 'any' }
  | { readonly type: 'eq'; readonly sources: readonly string[] }
  | { readonly type: 'in'; readonly values: readonly string[] }
  | {
      readonly type: 'observation';
      readonly eq: readonly string[];
      readonly v?: string;
      readonly h?: string;
    }
  | { readonly type: 'escaped' };

type Parsed =
  | { readonly ok: true; readonly value: Constraint }
  | { readonly ok: false; readonly reason: string };

const bad = (reason: string): Parsed => ({ ok: false, reason });

const SOURCE_HELP = `expected =principal, =request.<path>[|${TRANSFORMS.join('|')}] or =result.<template>.<column>`;

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
  const { eq, v, h, ...rest } = value as Record<string, unknown>;
  if (Object.keys(rest).length > 0)
    return bad(`unknown observation fields: ${Object.keys(rest).join(', ')}`);
  if (h !== undefined) {
    if (v !== undefined) return bad('an observation has "v" or "h", not both');
    if (typeof h !== 'string' || !DIGEST.test(h))
      return bad('"h" is the digest of the value (base64url characters)');
  } else if (typeof v !== 'string')
    return bad('an observation needs "v", the value as a string, or "h", its digest');
  if (!Array.isArray(eq) || !eq.every((s): s is string => typeof s === 'string')) {
    return bad('an observation needs "eq", an array of sources');
  }
  const unknown = eq.find((s) => !isSource(s));
  if (unknown !== undefined) return bad(`unknown source '${unknown}': ${SOURCE_HELP}`);
  return {
    ok: true,
    value:
      typeof h === 'string'
        ? { type: 'observation', eq: sortedDistinct(eq), h }
        : { type: 'observation', eq: sortedDistinct(eq), v: v as string },
  };
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
      return observationFact(c.h !== undefined ? { eq: c.eq, h: c.h } : { eq: c.eq, v: c.v ?? '' });
    case 'escaped':
      return undefined;
  }
}

/** The sources a key guarantees, with what they imply (for `any` and `in`: none). */
function guaranteed(c: Constraint): readonly string[] {
  if (c.type === 'eq') return implied(c.sources);
  if (c.type === 'observation') return implied(c.eq);
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
        (inner.type === 'observation' &&
          inner.eq.length === 0 &&
          inner.v !== undefined &&
          outer.values.includes(inner.v))
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
  if (fresh.length < options.threshold) {
    // Constants learned one by one as they repeated read better as one set.
    const sets = members.filter((m) => m.c.type === 'in');
    if (sets.length < 2) return [];
    const union = new Set<string>();
    for (const { c } of sets) if (c.type === 'in') for (const v of c.values) union.add(v);
    return [{ pattern: IN + JSON.stringify([...union].sort()), members: sets.map((m) => m.key) }];
  }

  let common: readonly string[] | undefined;
  for (const m of members)
    common =
      common === undefined ? guaranteed(m.c) : common.filter((s) => guaranteed(m.c).includes(s));
  let pattern: string;
  if (common !== undefined && common.length > 0) {
    pattern = strongest(common).sort().join(AND);
  } else {
    // Constants only when no value ever came from a source: a value that equalled a request
    // input is data, not a constant. A value seen more than once was learned as `in [...]`
    // (repeated); one seen once stays an observation (single). Mostly singles is a
    // high-cardinality slot (ids, search terms, prices): any value. Mostly repeats is a set.
    const repeated = new Set<string>();
    const singles = new Set<string>();
    let constant = true;
    for (const { c } of members) {
      if (c.type === 'in') for (const v of c.values) repeated.add(v);
    }
    for (const { c } of members) {
      // A digest is never a constant: it stands for a value that is not to be written down.
      if (c.type === 'observation' && c.eq.length === 0 && c.v !== undefined) {
        if (!repeated.has(c.v)) singles.add(c.v);
      } else if (c.type !== 'in') constant = false;
    }
    const values = [...new Set([...repeated, ...singles])].sort();
    pattern =
      constant && singles.size <= repeated.size && values.length <= MAX_CONSTANTS
        ? IN + JSON.stringify(values)
        : ANY;
  }
  return [{ pattern, members: members.map((m) => m.key) }];
}
