import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rules } from '../core/tree.ts';
import { isLeashError, type LeashError } from '../errors.ts';
import { registryWith } from '../modules/builtin.ts';
import { resultSources } from '../modules/sql/module.ts';
import { templateId } from '../modules/sql/sources.ts';
import { createStatementCache } from '../modules/sql/statement-cache.ts';
import { templateOf } from '../modules/sql/template.ts';
import { parsePolicy } from '../store/policy-file.ts';
import type { GateDecision, GateStatement } from './gate.ts';
import { createRequestRegistry, type RequestRecord } from './requests.ts';
import { createGate, type GateOptions, requestOfToken, type WorkerView } from './statement-gate.ts';
import { createTokenIssuer } from './token.ts';

const LIST = 'SELECT id, owner, title, body FROM notes WHERE owner = $1 ORDER BY id';
const ONE = 'SELECT id, owner, title, body FROM notes WHERE id = $1 AND owner = $2';
const DELETE = 'DELETE FROM notes WHERE id = $1';
const SCHEMA = 'CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, owner TEXT, title TEXT)';
const PURGE = 'DELETE FROM notes WHERE title = $1';

/** The statements as a worker's node:sqlite code sends them (`$1` is a named parameter there). */
const LIST_SQL = 'SELECT id, owner, title, body FROM notes WHERE owner = ? ORDER BY id';
const ONE_SQL = 'SELECT id, owner, title, body FROM notes WHERE id = ? AND owner = ?';
const DELETE_SQL = 'DELETE FROM notes WHERE id = ?';
const PURGE_SQL = 'DELETE FROM notes WHERE title = ?';
const SCHEMA_SQL =
  'CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, owner TEXT, title TEXT)';

/** The sql section a learned notes service would have. */
function sqlPolicy() {
  const policy = parsePolicy(
    JSON.stringify({
      version: 1,
      sql: {
        '@startup': [SCHEMA],
        '@background': { [PURGE]: { $1: ['*'] } },
        'GET /notes': { [LIST]: { $1: ['=principal'] } },
        'GET /notes/:id': { [ONE]: { $1: ['=request.params.id'], $2: ['=principal'] } },
        'DELETE /notes/:id': {
          [ONE]: { $1: ['=request.params.id'], $2: ['=principal'] },
          [DELETE]: { $1: [`=result.${templateId(ONE)}.id`] },
        },
      },
    }),
    { file: 'leash.policy.json', modules: registryWith() },
  );
  const sql = policy.modules.get('sql');
  assert.ok(sql !== undefined);
  return sql;
}

interface Harness {
  readonly options: GateOptions;
  readonly refusals: { error: LeashError; worker: WorkerView }[];
  /** Moves the registry's and the issuer's clock. */
  setTime(t: number): void;
  /** Registers a request as the dispatcher does and returns its token. */
  dispatch(record: Partial<Omit<RequestRecord, 'memory'>> & { route: string; rid: string }): string;
}

function harness(): Harness {
  let t = 0;
  const now = () => t;
  const sql = sqlPolicy();
  const tokens = createTokenIssuer({ ttlMs: 60_000, now });
  const requests = createRequestRegistry({ now });
  const refusals: Harness['refusals'] = [];
  const options: GateOptions = {
    sql,
    tokens,
    requests,
    cache: createStatementCache(),
    wantedResults: resultSources(rules(sql).map((rule) => rule[3] ?? '')),
    onRefusal: (error, worker) => refusals.push({ error, worker }),
  };
  return {
    options,
    refusals,
    setTime: (to) => {
      t = to;
    },
    dispatch: (record) => {
      requests.add({
        group: 'g1',
        principal: undefined,
        inputs: new Map(),
        sessions: [],
        expires: t + 10_000,
        ...record,
      });
      return tokens.mint({
        rid: record.rid,
        route: record.route,
        principal: record.principal ?? null,
      });
    },
  };
}

function worker(group = 'g1', started = true): WorkerView {
  return { group, name: `${group}#0`, started: () => started };
}

function statement(
  sql: string,
  positional: readonly unknown[],
  token: string | undefined,
): GateStatement {
  return { dialect: 'sqlite', sql, params: { positional }, token };
}

function assertRefused(
  decision: GateDecision,
  code: 'ERR_LEASH_DENIED' | 'ERR_LEASH_TOKEN',
  message?: RegExp,
): LeashError {
  assert.equal(decision.allowed, false, 'the statement was allowed');
  assert.ok(!decision.allowed);
  assert.ok(
    isLeashError(decision.error, code),
    `${decision.error.code}: ${decision.error.message}`,
  );
  if (message !== undefined) assert.match(decision.error.message, message);
  return decision.error;
}

test('a statement of the route’s template with the request’s own principal is allowed', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const gate = createGate(h.options, worker());
  assert.equal(gate(statement(LIST_SQL, ['alice'], token)).allowed, true);
  assert.deepEqual(h.refusals, []);
});

test('the same statement for another user’s name is refused as denied, in the route’s scope', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const gate = createGate(h.options, worker());
  const error = assertRefused(
    gate(statement(LIST_SQL, ['bob'], token)),
    'ERR_LEASH_DENIED',
    /GET \/notes/,
  );
  assert.equal(error.details.scope, 'GET /notes');
  assert.equal(error.details.module, 'sql');
  assert.equal(error.details.facts?.[0], 'GET /notes');
  assert.equal(error.details.facts?.[1], LIST);
});

test('the principal comes from the request the token names, not from the worker', () => {
  const h = harness();
  const anonymous = h.dispatch({ rid: 'a', route: 'GET /notes' });
  const gate = createGate(h.options, worker());
  assertRefused(
    gate(
      statement(
        'SELECT id, owner, title, body FROM notes WHERE owner = $1 ORDER BY id',
        ['alice'],
        anonymous,
      ),
    ),
    'ERR_LEASH_DENIED',
  );
});

test('route inputs the dispatcher read are sources: the request’s own id is allowed, another is not', () => {
  const h = harness();
  const token = h.dispatch({
    rid: 'a',
    route: 'GET /notes/:id',
    principal: 'alice',
    inputs: new Map([['7', ['request.params.id']]]),
  });
  const gate = createGate(h.options, worker());
  const sql = 'SELECT id, owner, title, body FROM notes WHERE id = :id AND owner = :owner';
  const allowed = gate({
    dialect: 'sqlite',
    sql,
    params: { positional: [], named: { id: 7, owner: 'alice' } },
    token,
  });
  assert.equal(allowed.allowed, true);
  assertRefused(
    gate({
      dialect: 'sqlite',
      sql,
      params: { positional: [], named: { id: 8, owner: 'alice' } },
      token,
    }),
    'ERR_LEASH_DENIED',
  );
});

test('a template of another route is refused, though the policy allows it there', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const gate = createGate(h.options, worker());
  assertRefused(gate(statement(DELETE_SQL, [1], token)), 'ERR_LEASH_DENIED');
  assertRefused(
    gate(statement(ONE_SQL, [1, 'alice'], token)),
    'ERR_LEASH_DENIED',
    /in GET \/notes:/,
  );
});

test('rows a statement returned are remembered for the request’s =result constraints', () => {
  const h = harness();
  const token = h.dispatch({
    rid: 'a',
    route: 'DELETE /notes/:id',
    principal: 'alice',
    inputs: new Map([['5', ['request.params.id']]]),
  });
  const gate = createGate(h.options, worker());
  // Before the row was read, deleting it is not allowed.
  assertRefused(gate(statement(DELETE_SQL, [5], token)), 'ERR_LEASH_DENIED');
  const read = gate(statement(ONE_SQL, [5, 'alice'], token));
  assert.ok(read.allowed);
  read.remember([{ id: 5, owner: 'alice', title: 't' }]);
  assert.equal(gate(statement(DELETE_SQL, [5], token)).allowed, true);
  assertRefused(gate(statement(DELETE_SQL, [6], token)), 'ERR_LEASH_DENIED');
});

test('what one request remembered does not serve another request of the same route', () => {
  const h = harness();
  const inputs = new Map([['5', ['request.params.id']]]);
  const first = h.dispatch({ rid: 'a', route: 'DELETE /notes/:id', principal: 'alice', inputs });
  const second = h.dispatch({ rid: 'b', route: 'DELETE /notes/:id', principal: 'alice', inputs });
  const gate = createGate(h.options, worker());
  const read = gate(statement(ONE_SQL, [5, 'alice'], first));
  assert.ok(read.allowed);
  read.remember([{ id: 5 }]);
  assert.equal(gate(statement(DELETE_SQL, [5], first)).allowed, true);
  assertRefused(gate(statement(DELETE_SQL, [5], second)), 'ERR_LEASH_DENIED');
});

test('rows of a statement without a token are not remembered for any request', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'DELETE /notes/:id', principal: 'alice' });
  const gate = createGate(h.options, worker());
  const purge = gate(statement(PURGE_SQL, ['old'], undefined));
  assert.ok(purge.allowed);
  purge.remember([{ id: 5 }]);
  assertRefused(gate(statement(DELETE_SQL, [5], token)), 'ERR_LEASH_DENIED');
});

test('a statement without a token is decided as @startup while the worker starts', () => {
  const h = harness();
  const starting = createGate(h.options, worker('g1', false));
  assert.equal(starting(statement(SCHEMA_SQL, [], undefined)).allowed, true);
  const error = assertRefused(
    starting(statement(PURGE_SQL, ['old'], undefined)),
    'ERR_LEASH_DENIED',
    /in @startup/,
  );
  assert.equal(error.details.scope, '@startup');
});

test('a statement without a token is decided as @background once the worker has started', () => {
  const h = harness();
  let started = false;
  const gate = createGate(h.options, { group: 'g1', name: 'g1#0', started: () => started });
  assertRefused(gate(statement(PURGE_SQL, ['old'], undefined)), 'ERR_LEASH_DENIED', /@startup/);
  started = true;
  assert.equal(gate(statement(PURGE_SQL, ['old'], undefined)).allowed, true);
  const error = assertRefused(
    gate(statement(SCHEMA_SQL, [], undefined)),
    'ERR_LEASH_DENIED',
    /in @background/,
  );
  assert.equal(error.details.scope, '@background');
  // Without a token, a route's statements are not the worker's own work.
  assertRefused(gate(statement(LIST_SQL, ['alice'], undefined)), 'ERR_LEASH_DENIED');
});

test('a token of a request of another group is refused, naming both groups', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice', group: 'g2' });
  const gate = createGate(h.options, worker('g1'));
  assertRefused(
    gate(statement(LIST_SQL, ['alice'], token)),
    'ERR_LEASH_TOKEN',
    /g1#0 serves group g1, the token is for a request of group g2/,
  );
});

test('a token whose request is no longer live is refused', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const gate = createGate(h.options, worker());
  h.setTime(9_999);
  assert.equal(gate(statement(LIST_SQL, ['alice'], token)).allowed, true);
  // The record expires at 10 000; the token itself would live until 60 000.
  h.setTime(10_000);
  assertRefused(
    gate(statement(LIST_SQL, ['alice'], token)),
    'ERR_LEASH_TOKEN',
    /request a is not live/,
  );
  h.setTime(20_000);
  assertRefused(gate(statement(LIST_SQL, ['alice'], token)), 'ERR_LEASH_TOKEN', /not live/);
});

test('a token of a request that was never registered is refused', () => {
  const h = harness();
  const stray = h.options.tokens.mint({ rid: 'zz', route: 'GET /notes', principal: 'alice' });
  assertRefused(
    createGate(h.options, worker())(statement(LIST_SQL, ['alice'], stray)),
    'ERR_LEASH_TOKEN',
    /request zz is not live/,
  );
});

test('a token naming another route than its request was dispatched to is refused as replayed', () => {
  const h = harness();
  h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const replayed = h.options.tokens.mint({
    rid: 'a',
    route: 'DELETE /notes/:id',
    principal: 'alice',
  });
  assertRefused(
    createGate(h.options, worker())(statement(DELETE_SQL, [1], replayed)),
    'ERR_LEASH_TOKEN',
    /replayed for another route \(DELETE \/notes\/:id, the request was GET \/notes\)/,
  );
});

test('a token of another issuer and a malformed token are refused', () => {
  const h = harness();
  h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const foreign = createTokenIssuer().mint({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const gate = createGate(h.options, worker());
  assertRefused(gate(statement(LIST_SQL, ['alice'], foreign)), 'ERR_LEASH_TOKEN', /forged/);
  assertRefused(gate(statement(LIST_SQL, ['alice'], 'v1.abc')), 'ERR_LEASH_TOKEN', /malformed/);
});

test('an unparsable statement is refused as denied, not thrown', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const error = assertRefused(
    createGate(h.options, worker())(statement('SELEC nonsense', [], token)),
    'ERR_LEASH_DENIED',
  );
  assert.equal(error.details.facts?.[1], '-- unparsable: SELEC nonsense');
});

test('with no sql section every statement is refused', () => {
  const h = harness();
  const gate = createGate({ ...h.options, sql: undefined }, worker('g1', false));
  assertRefused(gate(statement(SCHEMA_SQL, [], undefined)), 'ERR_LEASH_DENIED', /@startup/);
});

test('onRefusal is called once with each refusal and the worker that sent it', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice' });
  const other = h.dispatch({ rid: 'b', route: 'GET /notes', principal: 'bob', group: 'g2' });
  const view = worker();
  const gate = createGate(h.options, view);
  const decisions = [
    gate(statement(LIST_SQL, ['alice'], token)),
    gate(statement(LIST_SQL, ['bob'], token)),
    gate(statement(LIST_SQL, ['bob'], other)),
    gate(statement(SCHEMA_SQL, [], undefined)),
    gate(statement(LIST_SQL, ['alice'], token)),
  ];
  const refused = decisions.flatMap((d) => (d.allowed ? [] : [d.error]));
  assert.equal(refused.length, 3);
  assert.deepEqual(
    h.refusals.map((r) => r.error),
    refused,
  );
  assert.deepEqual(
    h.refusals.map((r) => r.error.code),
    ['ERR_LEASH_DENIED', 'ERR_LEASH_TOKEN', 'ERR_LEASH_DENIED'],
  );
  for (const r of h.refusals) assert.equal(r.worker, view);
});

test('requestOfToken returns the live record a token names for a worker of its group', () => {
  const h = harness();
  const token = h.dispatch({ rid: 'a', route: 'GET /notes', principal: 'alice', sessions: ['s1'] });
  const record = requestOfToken(h.options, token, worker('g1'));
  assert.equal(record.rid, 'a');
  assert.equal(record.route, 'GET /notes');
  assert.equal(record.principal, 'alice');
  assert.deepEqual(record.sessions, ['s1']);
  assert.throws(
    () => requestOfToken(h.options, token, worker('unprivileged')),
    (error: unknown) => isLeashError(error, 'ERR_LEASH_TOKEN'),
  );
});

test('the template texts in this policy are the ones the sqlite parser makes', () => {
  // Guards the fixture: a policy key that no statement normalises to would make refusals vacuous.
  const pairs = [
    [LIST_SQL, LIST],
    [ONE_SQL, ONE],
    [DELETE_SQL, DELETE],
    [SCHEMA_SQL, SCHEMA],
    [PURGE_SQL, PURGE],
  ] as const;
  for (const [sql, template] of pairs) assert.equal(templateOf(sql, 'sqlite').text, template);
});

test('a worker’s token whose payload is JSON null is refused as a token, not thrown', () => {
  const h = harness();
  const gate = createGate(h.options, worker());
  const token = `v1.${Buffer.from('null').toString('base64url')}.AAAA`;
  assertRefused(gate(statement(LIST_SQL, ['alice'], token)), 'ERR_LEASH_TOKEN', /malformed/);
  assert.equal(h.refusals.length, 1);
});
