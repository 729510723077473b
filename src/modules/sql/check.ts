/**
 * @module
 * One statement execution, decided: the statement becomes a template (cached by text), each slot
 * an observation of where its value came from (the principal, a request input, an earlier result)
 * and the facts `[scope, template, slot, observation]` go to the host, which learns them, reports
 * them or refuses them before the statement is sent. A statement that does not parse is never
 * learned: reported while learning, refused when enforcing.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isInternal } from '../../attribution/internal.ts';
import { currentRequest, type RequestState } from '../../attribution/scope.ts';
import { type Observation, observationFact } from '../../core/kinds/sql.ts';
import { allows, PerGeneration } from '../../core/tree.ts';
import { isLeashError } from '../../errors.ts';
import { privateSlot } from '../../instrument/private-slot.ts';
import type { CheckOptions, ModuleHost, UseContext } from '../../module/module.ts';
import { derivedSources } from './derived.ts';
import { ResultMemory, wantedColumns } from './result-memory.ts';
import { FULL_DIGEST, looksSecret, SHORT_DIGEST, secretSlots, valueDigest } from './sensitive.ts';
import { comparable, principalReader, requestInputs, templateId } from './sources.ts';
import type { StatementCache } from './statement-cache.ts';
import {
  type SqlDialect as Dialect,
  sqlParserLoading,
  type Template,
  type ValueSource,
} from './template.ts';

export interface SqlSettings {
  readonly principal: string | ((request: unknown) => unknown) | undefined;
  /** Request headers that count as inputs (lower case). */
  readonly headers: readonly string[];
  /** Values remembered per request for `=result` constraints. */
  readonly maxRemembered: number;
}

export interface SqlChecker {
  /**
   * Decides a statement about to run, in the caller's context, and returns how to remember the
   * rows it will return. The recorder is bound to the request of the check: drivers call it from
   * callbacks whose async context may be another request's (pooled connections). `caller`: the
   * scope and package of a statement that waited (`defer`), as they were when it was made.
   */
  check(dialect: Dialect, sql: string, params: StatementParams, caller?: UseContext): Recorder;
  /** The service loaded a driver of `dialect`: its parser starts loading if it needs one. */
  expect(dialect: Dialect): void;
  /**
   * For drivers whose API is asynchronous (pg, postgres.js): whether a statement of `dialect` must
   * wait before it can be decided, because its parser is still loading or statements deferred
   * before it have not run yet (their order is kept). A statement that cannot wait is decided at
   * once: while the parser loads it is refused as unparsable, never allowed.
   */
  mustWait(dialect: Dialect): boolean;
  /**
   * Runs `decide` once a statement of `dialect` can be decided (`mustWait`), after every statement
   * deferred before it, in the caller's async context and with its scope and package as they are
   * now; `failed` instead when the parser cannot be loaded. Neither may throw.
   */
  defer(
    dialect: Dialect,
    decide: (caller: UseContext) => void,
    failed: (error: unknown) => void,
  ): void;
}

/** Remembers the rows a checked statement returned, for `=result` constraints. */
export type Recorder = (rows: readonly unknown[]) => void;

const NOTHING: Recorder = () => {};

/** Whether a recorder keeps nothing (no constraint uses its statement's results): a driver need not hand it the rows. */
export function recordsNothing(recorder: Recorder): boolean {
  return recorder === NOTHING;
}

/** Allowed executions remembered per generation. */
const DECIDED_LIMIT = 10_000;

/** What was decided for one statement in one route. */
interface Decided {
  /** What the last allowed execution depended on, per slot: the key a repetition is looked up by. */
  depends: readonly Depends[] | undefined;
  /** Keys (decidedKey) of the executions allowed. */
  readonly keys: Set<string>;
}

export interface StatementParams {
  readonly positional: readonly unknown[];
  readonly named?: Readonly<Record<string, unknown>>;
}

/**
 * How a slot's value is written in a fact (and so in the policy, which is meant for git): a value
 * with a source only needs the source, plus a short digest that tells values apart for the
 * threshold; a secret-looking constant needs an exact digest; other constants stay readable.
 */
function observationOf(
  eq: readonly string[],
  value: string | undefined,
  secretColumn: boolean,
): Observation {
  if (value === undefined) return { eq, v: 'NULL' };
  if (eq.length > 0) return { eq, h: valueDigest(value, SHORT_DIGEST) };
  if (secretColumn || looksSecret(value)) return { eq, h: valueDigest(value, FULL_DIGEST) };
  return { eq, v: value };
}

function valueOfSource(source: ValueSource, params: StatementParams): unknown {
  if (source.kind === 'literal') return source.value;
  if (source.name !== undefined) {
    const named = params.named ?? {};
    const bare = source.name.replace(/^[:@$]/, '');
    return (
      named[source.name] ??
      named[bare] ??
      named[`:${bare}`] ??
      named[`@${bare}`] ??
      named[`$${bare}`]
    );
  }
  return params.positional[source.index];
}

/** The value a slot compares, as text: a list slot is the JSON list of its items. */
function slotValue(template: Template, index: number, params: StatementParams): string | undefined {
  const source = template.slots[index]!.source;
  if (source.kind === 'list') {
    return JSON.stringify(
      source.items.map((item) => comparable(valueOfSource(item, params)) ?? null),
    );
  }
  return comparable(valueOfSource(source, params));
}

/** Where the values of one request can come from. */
export interface RequestSources {
  readonly principal: string | undefined;
  readonly inputs: ReadonlyMap<string, readonly string[]>;
  readonly memory: ResultMemory | undefined;
}

/** What one execution binds to a slot: the value as text, and the sources it equalled (sorted). */
export interface SlotSeen {
  readonly value: string | undefined;
  readonly eq: readonly string[];
}

/** The value of each slot of one execution and where it came from. */
export function slotsSeen(
  template: Template,
  params: StatementParams,
  sources: RequestSources,
): SlotSeen[] {
  const { principal, inputs, memory } = sources;
  const seen: SlotSeen[] = [];
  for (let i = 0; i < template.slots.length; i++) {
    const value = slotValue(template, i, params);
    const eq: string[] = [];
    if (value !== undefined) {
      if (principal !== undefined && value === principal) eq.push('=principal');
      const exact = inputs.get(value);
      if (exact !== undefined) for (const source of exact) eq.push(`=${source}`);
      // Derived only when no input equals the value: equality implies every derivation.
      else if (inputs.size > 0)
        for (const source of derivedSources(value, inputs)) eq.push(`=${source}`);
      if (memory !== undefined) for (const source of memory.sourcesOf(value)) eq.push(`=${source}`);
    }
    if (eq.length > 1) eq.sort();
    seen.push({ value, eq });
  }
  return seen;
}

/**
 * The fact sequences of one execution: one per slot (`[scope, template, slot, observation]`), or
 * `[scope, template]` for a statement without slots. Shared by the in-process check and the
 * isolation proxy, so both decide a statement the same way.
 */
export function statementFacts(
  scope: string,
  template: Template,
  params: StatementParams,
  sources: RequestSources,
  secret: ReadonlySet<string>,
): Array<{ readonly facts: string[]; readonly observation: Observation | undefined }> {
  return factsOfSeen(scope, template, slotsSeen(template, params, sources), secret);
}

function factsOfSeen(
  scope: string,
  template: Template,
  seen: readonly SlotSeen[],
  secret: ReadonlySet<string>,
): Array<{ readonly facts: string[]; readonly observation: Observation | undefined }> {
  if (template.slots.length === 0)
    return [{ facts: [scope, template.text], observation: undefined }];
  return template.slots.map((slot, i) => {
    const { value, eq } = seen[i]!;
    const observation = observationOf(eq, value, secret.has(slot.slot));
    return { facts: [scope, template.text, slot.slot, observationFact(observation)], observation };
  });
}

/**
 * What a slot's decision depended on, by the rule that allowed it: nothing (`*`), the sources its
 * value equalled (`=<source>`), or the value too (`in [...]`, or an exact observation, which names
 * the value's digest).
 */
type Depends = 'nothing' | 'sources' | 'value';

function dependsOn(constraint: string): Depends {
  if (constraint === '*') return 'nothing';
  return constraint.startsWith('=') ? 'sources' : 'value';
}

/**
 * The key of an execution of one statement in one route under what each slot's decision depended
 * on, or undefined when it depended on a secret-looking slot's value (a value the cache would keep
 * in memory).
 */
function decidedKey(
  template: Template,
  seen: readonly SlotSeen[],
  secret: ReadonlySet<string>,
  depends: readonly Depends[],
): string | undefined {
  let key = '';
  for (let i = 0; i < seen.length; i++) {
    const { value, eq } = seen[i]!;
    const on = depends[i];
    if (on === 'nothing') key += '\u0000*';
    else if (on === 'sources') key += `\u0000=${eq.join('&')}`;
    else if (secret.has(template.slots[i]!.slot)) return undefined;
    // JSON: a value holds no raw NUL, so it can never pass for the separator of another slot.
    else
      key += `\u0000=${eq.join('&')}\u0000${value === undefined ? 'null' : JSON.stringify(value)}`;
  }
  return key;
}

/** The secret-looking slots of a template text, remembered per text (checks are hot). */
export function secretSlotCache(): (text: string) => Set<string> {
  const secretsOf = new Map<string, Set<string>>();
  return (text) => {
    let slots = secretsOf.get(text);
    if (slots === undefined) {
      slots = secretSlots(text);
      if (secretsOf.size > 10_000) secretsOf.clear();
      secretsOf.set(text, slots);
    }
    return slots;
  };
}

/** Marks a statement that did not parse; never produced by a template, so never learned by mistake. */
export const UNPARSABLE = '-- unparsable: ';

export function createSqlChecker(
  host: ModuleHost,
  cache: StatementCache,
  settings: SqlSettings,
  /** In enforce/report mode, the `result.*` sources some constraint uses; undefined keeps all. */
  wantedResults: ReadonlySet<string> | undefined,
): SqlChecker {
  // On the request's state, which goes with the request: a WeakMap keyed by the state made an
  // ephemeron that every young-generation collection processed (and a 'close' listener per
  // request to empty it early), on every request of a learning service.
  const memories = privateSlot<ResultMemory>();
  const secretSlotsOf = secretSlotCache();
  const principalOf = principalReader(settings.principal);
  const warned = new Set<string>();
  // Executions already allowed, per statement (its template, one object per text) and route,
  // keyed by what their decision depended on (decidedKey): the same route running the same
  // statement with values from the same sources is decided by one lookup, with no digest and no
  // policy walk. Report and enforce never change the policy; learning only adds to it (what was
  // allowed stays allowed, and an allowed execution teaches nothing) until a flush replaces the
  // live tree with the saved one, which starts a new generation of memory.
  const decisions = new PerGeneration(
    host.tree,
    DECIDED_LIMIT,
    () => new WeakMap<Template, Map<string, Decided>>(),
  );
  const decidedOf = (template: Template, scope: string): Decided => {
    const decided = decisions.current;
    let byScope = decided.get(template);
    if (byScope === undefined) {
      byScope = new Map();
      decided.set(template, byScope);
    }
    let entry = byScope.get(scope);
    if (entry === undefined) {
      entry = { depends: undefined, keys: new Set() };
      byScope.set(scope, entry);
    }
    return entry;
  };

  const memoryOf = (state: RequestState): ResultMemory => {
    let memory = memories.get(state);
    if (memory === undefined) {
      memory = new ResultMemory(settings.maxRemembered);
      memories.set(state, memory);
    }
    return memory;
  };

  /**
   * While learning, a constant already learned as this very observation is seen again: it repeats,
   * so it is a member of a set (`in [...]`), not one of many distinct values (docs: "SQL").
   */
  const repeatedConstant = (
    facts: readonly string[],
    observation: Observation,
  ): CheckOptions | undefined => {
    if (host.mode !== 'learn' || observation.eq.length > 0 || observation.v === undefined)
      return undefined;
    const decision = allows(host.tree, facts, { nearest: false });
    if (!decision.allowed || decision.rule[3] !== facts[3]) return undefined;
    return { alsoLearn: [...facts.slice(0, 3), `in ${JSON.stringify([observation.v])}`] };
  };

  // Statements waiting for their parser, in the order they were made.
  let queue: Promise<void> = Promise.resolve();
  let waiting = 0;

  return {
    expect(dialect) {
      if (host.mode !== 'off') sqlParserLoading(dialect)?.catch(() => {});
    },
    mustWait(dialect) {
      if (host.mode === 'off' || isInternal()) return false;
      return waiting > 0 || sqlParserLoading(dialect) !== undefined;
    },
    defer(dialect, decide, failed) {
      const loading = sqlParserLoading(dialect);
      // The package is read from the stack now, while the caller is on it.
      const use = host.use();
      const caller: UseContext = { scope: use.scope, package: use.package };
      const inContext = AsyncLocalStorage.snapshot();
      const run = (fn: () => void) => {
        waiting--;
        try {
          inContext(fn);
        } catch (error) {
          // A driver's bug, not a decision: surfaced as its own callback's throw would be.
          queueMicrotask(() => {
            throw error;
          });
        }
      };
      waiting++;
      queue = queue
        .then(() => loading)
        .then(
          () => run(() => decide(caller)),
          (error: unknown) => run(() => failed(error)),
        );
    },
    check(dialect, sql, params, caller) {
      // leash's own statements (the policy lock is a node:sqlite transaction) are not the service's.
      if (host.mode === 'off' || isInternal()) return NOTHING;
      const use = caller ?? host.use();
      let template: Template;
      try {
        template = cache.get(sql, dialect);
      } catch (error) {
        if (!isLeashError(error, 'ERR_LEASH_SQL_UNPARSABLE')) throw error;
        if (host.mode === 'learn') {
          if (!warned.has(sql)) {
            warned.add(sql);
            host.log.warn(
              { event: 'sql-unparsable', scope: use.scope, statement: sql },
              error.message,
            );
          }
          return NOTHING;
        }
        host.check([use.scope, `${UNPARSABLE}${sql}`], use);
        return NOTHING;
      }
      const state = currentRequest();
      // Inputs and the principal live on the framework's own request object (Fastify's), else
      // on the request Node gave the server (Express adds to it).
      const request = state?.framework ?? state?.request;
      const principal = principalOf(request);
      const inputs =
        state === undefined
          ? new Map<string, string[]>()
          : requestInputs(request, settings.headers, state);
      // What earlier statements of this request returned; made when one returns rows a
      // constraint may name (none yet: no value came from a result).
      const memory = state === undefined ? undefined : memories.get(state);
      const secret = secretSlotsOf(template.text);
      const seen = slotsSeen(template, params, { principal, inputs, memory });
      // What the last allowed execution of this statement in this route depended on, per slot:
      // the key under it is what a repetition is looked up by.
      const statement = decidedOf(template, use.scope);
      const depends = statement.depends;
      const lookup =
        depends === undefined ? undefined : decidedKey(template, seen, secret, depends);
      if (lookup === undefined || !statement.keys.has(lookup)) {
        const found: Depends[] = [];
        // Learned or only reported (no rule allowed it): nothing to remember.
        let ruled = true;
        for (const { facts, observation } of factsOfSeen(use.scope, template, seen, secret)) {
          const verdict = host.check(
            facts,
            use,
            observation && repeatedConstant(facts, observation),
          );
          const rule = verdict.allowed ? verdict.rule : undefined;
          if (rule === undefined) ruled = false;
          else if (template.slots.length > 0) found.push(dependsOn(rule[3] ?? ''));
        }
        const key = ruled ? decidedKey(template, seen, secret, found) : undefined;
        // Not when checking replaced the tree (a flush while learning): decided against the old.
        if (key !== undefined && decisions.fresh) {
          if (!statement.keys.has(key)) {
            statement.keys.add(key);
            decisions.added();
          }
          statement.depends = found;
        }
      }
      // With no constraint on this statement's results (enforce and report know which they
      // need), nothing is kept.
      if (state === undefined || wantedResults?.size === 0) return NOTHING;
      const id = templateId(template.text);
      if (wantedResults !== undefined && wantedColumns(wantedResults, id).size === 0)
        return NOTHING;
      return (rows) => {
        if (rows.length > 0) memoryOf(state).remember(id, rows, wantedResults);
      };
    },
  };
}
