/**
 * @module
 * The database proxies' decision (Passe's proxy check): a statement runs when the sql section of
 * the policy allows it for the route its token names, with the principal and inputs the dispatcher
 * resolved — not what the worker says. A statement without a token is the worker's own work: its
 * start-up while it starts (`@startup`), then `@background`. A token that does not verify, that
 * belongs to no live request, or to a request of another route or group is refused
 * (ERR_LEASH_TOKEN); a statement the policy does not allow is refused (ERR_LEASH_DENIED).
 */
import { BACKGROUND, STARTUP } from '../attribution/scope.ts';
import { allows, type PolicyTree } from '../core/tree.ts';
import { isLeashError, LeashError } from '../errors.ts';
import { secretSlotCache, statementFacts, UNPARSABLE } from '../modules/sql/check.ts';
import { templateId } from '../modules/sql/sources.ts';
import type { StatementCache } from '../modules/sql/statement-cache.ts';
import type { Template } from '../modules/sql/template.ts';
import type { Gate, GateDecision } from './gate.ts';
import type { RequestRecord, RequestRegistry } from './requests.ts';
import type { TokenIssuer } from './token.ts';

export interface WorkerView {
  readonly group: string;
  /** Whether the worker has started listening (its start-up is over). */
  readonly started: () => boolean;
  readonly name: string;
}

export interface GateOptions {
  /** The sql section of the policy; undefined: no statement is allowed. */
  readonly sql: PolicyTree | undefined;
  readonly tokens: TokenIssuer;
  readonly requests: RequestRegistry;
  readonly cache: StatementCache;
  /** The `result.*` sources some constraint uses (only those are remembered). */
  readonly wantedResults: ReadonlySet<string>;
  /** Called with each refusal (the supervisor records it). */
  readonly onRefusal?: (error: LeashError, worker: WorkerView) => void;
}

const NO_INPUTS: ReadonlyMap<string, readonly string[]> = new Map();

/**
 * The live request a worker's token names, when the token is this supervisor's, not expired, for
 * the route the request was dispatched to and for a request of the worker's own group; else
 * ERR_LEASH_TOKEN saying which. The session table asks the same before a store operation.
 */
export function requestOfToken(
  options: Pick<GateOptions, 'tokens' | 'requests'>,
  token: string,
  worker: WorkerView,
): RequestRecord {
  const claims = options.tokens.verify(token);
  const record = options.requests.get(claims.rid);
  if (record === undefined)
    throw new LeashError(
      'ERR_LEASH_TOKEN',
      `isolation token refused: request ${claims.rid} is not live`,
    );
  if (record.route !== claims.route)
    throw new LeashError(
      'ERR_LEASH_TOKEN',
      `isolation token refused: replayed for another route (${claims.route}, the request was ${record.route})`,
    );
  if (record.group !== worker.group)
    throw new LeashError(
      'ERR_LEASH_TOKEN',
      `isolation token refused: ${worker.name} serves group ${worker.group}, the token is for a request of group ${record.group}`,
    );
  return record;
}

export function createGate(options: GateOptions, worker: WorkerView): Gate {
  const secretSlotsOf = secretSlotCache();
  const refuse = (error: LeashError): GateDecision => {
    options.onRefusal?.(error, worker);
    return { allowed: false, error };
  };
  return (statement) => {
    let record: RequestRecord | undefined;
    if (statement.token !== undefined) {
      try {
        record = requestOfToken(options, statement.token, worker);
      } catch (error) {
        if (isLeashError(error)) return refuse(error);
        throw error;
      }
    }
    const scope = record?.route ?? (worker.started() ? BACKGROUND : STARTUP);
    const deny = (facts: readonly string[]): GateDecision =>
      refuse(
        new LeashError(
          'ERR_LEASH_DENIED',
          `leash refused sql ${JSON.stringify(facts)} in ${scope}: the database proxy holds ${worker.name} to the policy of the request's route`,
          { module: 'sql', facts, scope },
        ),
      );
    if (options.sql === undefined) return deny([scope, statement.sql]);
    let template: Template;
    try {
      template = options.cache.get(statement.sql, statement.dialect);
    } catch (error) {
      if (!isLeashError(error, 'ERR_LEASH_SQL_UNPARSABLE')) throw error;
      return deny([scope, `${UNPARSABLE}${statement.sql}`]);
    }
    const executions = statementFacts(
      scope,
      template,
      statement.params,
      {
        principal: record?.principal,
        inputs: record?.inputs ?? NO_INPUTS,
        memory: record?.memory,
      },
      secretSlotsOf(template.text),
    );
    for (const { facts } of executions) {
      if (!allows(options.sql, facts, { nearest: false }).allowed) return deny(facts);
    }
    const id = templateId(template.text);
    return {
      allowed: true,
      remember: (rows) => {
        if (record !== undefined && rows.length > 0)
          record.memory.remember(id, rows, options.wantedResults);
      },
    };
  };
}
