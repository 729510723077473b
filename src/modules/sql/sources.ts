/**
 * @module
 * Where a slot's value can come from, as the constraint sources of the sql kinds name them:
 * `=principal`, `=request.<path>` (route params, query string, body fields, configured headers) and
 * `=result.<template-id>.<column>` (a value an earlier query of the same request returned).
 */
import { createHash } from 'node:crypto';

const ids = new Map<string, string>();

/** A short stable id of a template, for `=result.<id>.<column>` (remembered: checks are hot). */
export function templateId(text: string): string {
  let id = ids.get(text);
  if (id === undefined) {
    id = `t${createHash('sha256').update(text).digest('base64url').slice(0, 8)}`;
    if (ids.size > 10_000) ids.clear();
    ids.set(text, id);
  }
  return id;
}

/** The text a value is compared as: SQL drivers and request parsers disagree on types. */
export function comparable(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean')
    return String(value);
  if (value instanceof Date) return value.toISOString();
  return undefined;
}

const MAX_DEPTH = 4;
const MAX_INPUTS = 200;

/** What leash itself found out about a request, for services whose framework records nothing. */
export interface SeenInputs {
  readonly params?: Readonly<Record<string, string>> | undefined;
  readonly body?: unknown;
}

/**
 * Flattens the inputs of a request into value → sources (`request.params.id`, `request.body.title`).
 * Reads what the framework already parsed (Express sets params, query and body on the request
 * object, Fastify on its own); for what the framework does not record (a plain node:http service
 * that parses its own body), the path parameters and body leash saw (`seen`) stand in, and the
 * query string is parsed from the URL.
 */
export function requestInputs(
  request: unknown,
  headers: readonly string[],
  seen: SeenInputs = {},
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (typeof request !== 'object' || request === null) return out;
  const req = request as {
    params?: unknown;
    query?: unknown;
    body?: unknown;
    url?: string;
    headers?: Record<string, unknown>;
  };
  const inputs = new Inputs(out);
  inputs.add('request.params', req.params ?? seen.params, 0);
  inputs.add('request.query', queryOf(req), 0);
  inputs.add('request.body', req.body ?? seen.body, 0);
  for (const name of headers)
    inputs.add(
      `request.headers.${name.toLowerCase()}`,
      req.headers?.[name.toLowerCase()],
      MAX_DEPTH - 1,
    );
  return out;
}

const INPUT_NAME = /^[A-Za-z_$][\w$-]*$/;

/** Collects value → sources, at most MAX_INPUTS values (run once per statement: no closures). */
class Inputs {
  readonly #out: Map<string, string[]>;
  #count = 0;

  constructor(out: Map<string, string[]>) {
    this.#out = out;
  }

  add(path: string, value: unknown, depth: number): void {
    if (this.#count >= MAX_INPUTS) return;
    const text = comparable(value);
    if (text !== undefined) {
      this.#count++;
      const list = this.#out.get(text);
      if (list === undefined) this.#out.set(text, [path]);
      else if (!list.includes(path)) list.push(path);
      return;
    }
    if (depth >= MAX_DEPTH || typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record))
      if (INPUT_NAME.test(key)) this.add(`${path}.${key}`, record[key], depth + 1);
  }
}

/** The parsed query string of a request, as its framework parsed it, else from its URL. */
function queryOf(req: { query?: unknown; url?: string }): unknown {
  // No query string, no query inputs: Express 5's `req.query` is a getter that would parse the
  // URL again on every statement.
  if (typeof req.url === 'string' && !req.url.includes('?')) return undefined;
  if (req.query !== undefined && typeof req.query === 'object') return req.query;
  if (typeof req.url !== 'string') return undefined;
  return Object.fromEntries(new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1)));
}

/** Reads the principal: a property path of the request (`req.session.user`) or a function of it. */
export function principalOf(
  request: unknown,
  principal: string | ((request: unknown) => unknown) | undefined,
): string | undefined {
  return principalReader(principal)(request);
}

/**
 * principalOf for one setting, its property path split once: a statement check reads the
 * principal every time.
 */
export function principalReader(
  principal: string | ((request: unknown) => unknown) | undefined,
): (request: unknown) => string | undefined {
  if (principal === undefined) return () => undefined;
  if (typeof principal === 'function') {
    return (request) => {
      if (request === undefined) return undefined;
      try {
        return comparable(principal(request));
      } catch {
        return undefined;
      }
    };
  }
  const keys = principal.replace(/^(req|request|ctx)\./, '').split('.');
  return (request) => {
    if (request === undefined) return undefined;
    let value: unknown = request;
    for (const key of keys) {
      if (typeof value !== 'object' || value === null) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return comparable(value);
  };
}
