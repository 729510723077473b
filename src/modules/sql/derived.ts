/**
 * @module
 * Values an application derives from a request input before binding them: a search term wrapped
 * for LIKE (`%q%`), a trimmed or case-changed name, a price parsed out of `$12.50`. Each is named
 * as its input with the transformation (`request.query.q|contains`), so the learned constraint
 * keeps following the input instead of freezing the few values seen while learning
 * (docs/policy-format.md, "SQL").
 */
import type { Transform } from '../../core/kinds/sql.ts';

const NUMBER = /^-?\d+(?:\.\d+)?$/;
/** The relations to an input, in the order they are named. */
const RELATIONS: readonly Transform[] = ['trim', 'lower', 'number'];

/** The numbers written in an input: with and without a leading minus, thousands commas dropped. */
function numbersIn(text: string): number[] {
  const match = /-?\d[\d,]*(?:\.\d+)?/.exec(text);
  if (match === null) return [];
  const signed = Number(match[0].replace(/,/g, ''));
  return [signed, Math.abs(signed)];
}

function wrapped(value: string): { inner: string; transform: Transform } | undefined {
  if (value.length >= 2 && value.startsWith('%') && value.endsWith('%'))
    return { inner: value.slice(1, -1), transform: 'contains' };
  if (value.endsWith('%')) return { inner: value.slice(0, -1), transform: 'prefix' };
  if (value.startsWith('%')) return { inner: value.slice(1), transform: 'suffix' };
  return undefined;
}

/**
 * The request sources a slot value is derived from, as `request.<path>|<transform>`, given the
 * request's inputs (value → paths). Only relations that are not plain equality are listed.
 */
export function derivedSources(
  value: string,
  inputs: ReadonlyMap<string, readonly string[]>,
): string[] {
  const out = new Set<string>();
  const like = wrapped(value);
  if (like !== undefined)
    for (const path of inputs.get(like.inner) ?? []) out.add(`${path}|${like.transform}`);
  const lower = value.toLowerCase();
  const numeric = NUMBER.test(value) ? Number(value) : undefined;
  // Keys, then a lookup: iterating entries makes a pair per input, on every statement.
  for (const text of inputs.keys()) {
    if (text === value) continue;
    const trim = text.trim() === value;
    const lowered = text.toLowerCase() === lower || text.trim().toLowerCase() === lower;
    const number = numeric !== undefined && numbersIn(text).includes(numeric);
    if (!trim && !lowered && !number) continue;
    const paths = inputs.get(text) ?? [];
    for (const relation of RELATIONS) {
      if (relation === 'trim' ? !trim : relation === 'lower' ? !lowered : !number) continue;
      for (const path of paths) out.add(`${path}|${relation}`);
    }
  }
  return out.size === 0 ? [] : [...out];
}
