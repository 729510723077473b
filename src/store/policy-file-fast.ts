/**
 * @module
 * The fast way to read a valid policy file: the native `JSON.parse` and one walk over the values.
 * The positioned parser (momoa) builds a syntax tree with a location for every token, which is
 * what makes a precise error possible, and most of what loading a large policy cost (3 of 5 s for
 * 300,000 rules). A valid file needs no positions, so this path reads it alone; at the first thing
 * it does not accept it answers `undefined`, and the caller reads the file again the slow way,
 * which explains the problem with its file:line:column. Both must accept exactly the same files:
 * anything unusual here falls back rather than deciding.
 */
import type { Kind } from '../core/kind.ts';
import { POLICY_VERSION, type Policy } from '../core/policy.ts';
import { createTree, type PolicyNode, type PolicyTree } from '../core/tree.ts';
import type { ModuleRegistry } from '../module/module.ts';
import { expandKey, type Locality } from './locality.ts';

interface FastOptions {
  readonly modules: ModuleRegistry;
  readonly locality?: Locality;
}

// Thrown (never shown) to leave this path; one instance, so leaving costs no stack capture.
const unusual = new Error('not for the fast path');

export function readPolicyFast(text: string, options: FastOptions): Policy | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(value) || value.version !== POLICY_VERSION) return undefined;
  // JSON.parse keeps the last of duplicate keys silently; the file format refuses them.
  if (countKeys(text) !== countValueKeys(value)) return undefined;
  try {
    const modules = new Map<string, PolicyTree>();
    for (const [name, section] of Object.entries(value)) {
      if (name === 'version') continue;
      const module = options.modules.get(name);
      if (module === undefined) return undefined;
      const tree = createTree(module.root);
      const { locality } = options;
      const expand =
        locality === undefined || name !== 'runtime'
          ? (key: string) => key
          : (key: string) => expandKey(key, locality);
      readNode(tree.root, module.root, section, expand);
      modules.set(name, tree);
    }
    return { version: POLICY_VERSION, modules };
  } catch {
    // Something this path does not accept, or a kind or the locality that throws: the reader
    // with positions explains it.
    return undefined;
  }
}

function readNode(
  node: PolicyNode,
  kind: Kind,
  json: unknown,
  expand: (key: string) => string,
): void {
  if (Array.isArray(json)) {
    for (const written of json) {
      if (typeof written !== 'string') throw unusual;
      add(node, kind, written, undefined, expand);
    }
  } else if (isObject(json)) {
    for (const written in json) add(node, kind, written, json[written], expand);
  } else throw unusual;
}

function add(
  node: PolicyNode,
  kind: Kind,
  written: string,
  value: unknown,
  expand: (key: string) => string,
): void {
  const key = expand(written);
  if (kind.validate(key) !== undefined) throw unusual;
  const next = kind.child(key);
  if (value !== undefined && !Array.isArray(value) && !isObject(value)) throw unusual;
  const isLeafValue = value === undefined || (isObject(value) && isEmptyObject(value));
  if (next === null && !isLeafValue) throw unusual;
  if (next !== null && isLeafValue) {
    if (value !== undefined) return; // `{}` under a non-final position grants nothing
    throw unusual;
  }
  const child = node.ensure(key);
  if (next !== null && value !== undefined) readNode(child, next, value, expand);
  if (next !== null && child.children.size === 0) node.remove(key);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isEmptyObject(value: Record<string, unknown>): boolean {
  for (const _ in value) return false;
  return true;
}

/** Keys of every object in a parsed value. */
function countValueKeys(value: unknown): number {
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += countValueKeys(item);
    return n;
  }
  if (!isObject(value)) return 0;
  let n = 0;
  for (const key in value) n += 1 + countValueKeys(value[key]);
  return n;
}

/** Object keys in JSON text that parsed: every string followed by a `:`. */
function countKeys(text: string): number {
  let n = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    if (text.charCodeAt(i) !== 34 /* " */) continue;
    // Skip the string, escapes included.
    i++;
    while (i < length) {
      const c = text.charCodeAt(i);
      if (c === 92 /* \ */) i += 2;
      else if (c === 34) break;
      else i++;
    }
    let j = i + 1;
    while (j < length) {
      const c = text.charCodeAt(j);
      if (c === 32 || c === 9 || c === 10 || c === 13) j++;
      else break;
    }
    if (text.charCodeAt(j) === 58 /* : */) n++;
  }
  return n;
}
