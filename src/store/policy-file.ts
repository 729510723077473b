/**
 * @module
 * The policy file format (docs/policy-format.md): parse with positions, validate with a schema and
 * then with each position's kind, and serialise with sorted keys so that a learned change is a
 * small diff. A node whose children all end rules is written as an array of keys.
 */
import { type AnyNode, type DocumentNode, parse as parseJson } from '@humanwhocodes/momoa';
import type { z as Z } from 'zod';
import { lazy, zod } from '../config/zod.ts';
import type { Kind } from '../core/kind.ts';
import { POLICY_VERSION, type Policy } from '../core/policy.ts';
import { createTree, PolicyNode, type PolicyTree } from '../core/tree.ts';
import { LeashError } from '../errors.ts';
import type { ModuleRegistry } from '../module/module.ts';
import { contractKey, expandKey, isUnsetVariable, type Locality } from './locality.ts';
import { readPolicyFast } from './policy-file-fast.ts';

/** A tree in the file: nested objects, ending in arrays of keys or empty objects. */
type TreeJson = readonly string[] | { readonly [key: string]: TreeJson };

/** The file's schema, made when a file is first read the slow way (see config/zod.ts). */
export const policyFileSchema = lazy(() => {
  const z = zod();
  const treeSchema: Z.ZodType<TreeJson> = z.lazy(() =>
    z.union([z.array(z.string()), z.record(z.string(), treeSchema)], {
      error: 'expected an object of rules or an array of strings',
    }),
  );
  return z
    .object({
      version: z.literal(POLICY_VERSION, {
        error: (issue) =>
          issue.input === undefined
            ? `missing "version": expected "version": ${POLICY_VERSION}`
            : `unknown version ${JSON.stringify(issue.input)}: this leash reads version ${POLICY_VERSION}`,
      }),
    })
    .catchall(treeSchema);
});

export interface ParseOptions {
  /** Shown in messages; the caller reads the file. */
  readonly file: string;
  readonly modules: ModuleRegistry;
  /** This machine's roots and environment: `{app}`, `{env:PORT}`… are expanded with them. */
  readonly locality?: Locality;
}

/** Parses and validates a policy file's text. Throws a `LeashError` naming file:line:col. */
export function parsePolicy(text: string, options: ParseOptions): Policy {
  // A valid file is read without positions; anything else is read again below to explain it.
  return readPolicyFast(text, options) ?? parsePolicyWithPositions(text, options);
}

/** The full reader: every problem explained at its file:line:column. */
export function parsePolicyWithPositions(text: string, options: ParseOptions): Policy {
  const { file } = options;
  let document: DocumentNode;
  try {
    document = parseJson(text, { mode: 'json', ranges: false });
  } catch (error) {
    const e = error as Error & { line?: number; column?: number };
    const reason = e.message.replace(/ \(\d+:\d+\)$/, '');
    throw new LeashError(
      'ERR_LEASH_POLICY_PARSE',
      `${file}:${e.line ?? 1}:${e.column ?? 1}: invalid JSON: ${reason}`,
      {
        file,
        line: e.line ?? 1,
        column: e.column ?? 1,
      },
    );
  }
  checkDuplicateKeys(document.body, file, []);
  const value = evaluate(document.body);
  const result = policyFileSchema().safeParse(value);
  if (!result.success) {
    const { path, message } = deepestIssue(result.error.issues[0]!, []);
    throw schemaError(file, document.body, path, message);
  }
  const modules = new Map<string, PolicyTree>();
  for (const member of objectMembers(document.body)) {
    const name = member.name;
    if (name === 'version') continue;
    const module = options.modules.get(name);
    if (module === undefined) {
      const known = [...options.modules.keys()].sort().join(', ');
      throw schemaError(
        file,
        document.body,
        [name],
        `unknown module section "${name}" (known modules: ${known})`,
        true,
      );
    }
    const t = createTree(module.root);
    const { locality } = options;
    const expand = (key: string) =>
      locality === undefined || name !== 'runtime' ? key : expandKey(key, locality);
    readNode(t.root, module.root, member.value, [name], file, document.body, expand);
    modules.set(name, t);
  }
  return { version: POLICY_VERSION, modules };
}

function readNode(
  node: PolicyNode,
  kind: Kind,
  json: AnyNode,
  path: (string | number)[],
  file: string,
  body: AnyNode,
  expand: (key: string) => string,
): void {
  const entries: Array<{ key: string; value: AnyNode | undefined; at: (string | number)[] }> = [];
  if (json.type === 'Array') {
    json.elements.forEach((element, i) => {
      entries.push({
        key: (element.value as { value: string }).value,
        value: undefined,
        at: [...path, i],
      });
    });
  } else {
    for (const member of objectMembers(json)) {
      entries.push({ key: member.name, value: member.value, at: [...path, member.name] });
    }
  }
  for (const { key: written, value, at } of entries) {
    let key: string;
    try {
      key = expand(written);
    } catch (error) {
      if (!isUnsetVariable(error)) throw error;
      throw schemaError(file, body, at, error.message, value !== undefined);
    }
    const problem = kind.validate(key);
    if (problem !== undefined)
      throw schemaError(
        file,
        body,
        at,
        `invalid ${kind.name} ${JSON.stringify(key)}: ${problem}`,
        value !== undefined,
      );
    const next = kind.child(key);
    const isLeafValue =
      value === undefined || (value.type === 'Object' && value.members.length === 0);
    if (next === null && !isLeafValue) {
      throw schemaError(
        file,
        body,
        at,
        `a rule ends at this ${kind.name}: expected {} or an entry in an array`,
      );
    }
    if (next !== null && isLeafValue) {
      if (value !== undefined) continue; // `{}` under a non-final position grants nothing
      throw schemaError(
        file,
        body,
        at,
        `a ${kind.name} is followed by a ${next.name}: expected an object, not an array entry`,
      );
    }
    const child = node.ensure(key);
    if (next !== null && value !== undefined) readNode(child, next, value, at, file, body, expand);
    if (next !== null && child.children.size === 0) node.remove(key);
  }
}

interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly errors?: readonly (readonly Issue[])[];
}

/**
 * A tree value matches neither an array nor an object, so zod reports a union failure at every
 * level above the mistake; the useful one is the deepest (branch paths are relative).
 */
function deepestIssue(
  issue: Issue,
  prefix: readonly (string | number)[],
): { path: (string | number)[]; message: string } {
  const here = [...prefix, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
  let best = { path: here, message: issue.message };
  if (issue.code !== 'invalid_union') return best;
  for (const branch of issue.errors ?? []) {
    for (const sub of branch) {
      if (sub.code !== 'invalid_union' && sub.path.length === 0) continue;
      const candidate = deepestIssue(sub, here);
      if (candidate.path.length > best.path.length) best = candidate;
    }
  }
  return best;
}

/**
 * Serialises a policy: sorted keys, two-space indent, arrays where every child ends a rule. With
 * a locality, paths under its roots and ports from its environment are written as tokens.
 */
export function serializePolicy(policy: Policy, locality?: Locality): string {
  const out: Record<string, unknown> = { version: policy.version };
  for (const name of [...policy.modules.keys()].sort()) {
    const t = policy.modules.get(name)!;
    const written = (key: string) =>
      locality === undefined ? key : contractKey(key, locality, name);
    if (t.root.children.size > 0) out[name] = nodeJson(t.root, written);
  }
  return `${JSON.stringify(out, null, 2)}\n`;
}

function nodeJson(node: PolicyNode, written: (key: string) => string): TreeJson {
  // Two keys may contract to one (`/srv/app/x` and a hand-written `{app}/x`): they are one rule.
  const children = new Map<string, PolicyNode[]>();
  for (const [key, child] of node.children) {
    const name = written(key);
    children.set(name, [...(children.get(name) ?? []), child]);
  }
  const keys = [...children.keys()].sort();
  const isLeaf = (k: string) => children.get(k)!.every((c) => c.children.size === 0);
  if (keys.every(isLeaf)) return keys;
  const out: Record<string, TreeJson> = {};
  for (const key of keys) {
    const merged = new PolicyNode();
    for (const child of children.get(key)!)
      for (const [k, grandchild] of child.children) mergeNode(merged.ensure(k), grandchild);
    out[key] = merged.children.size === 0 ? {} : nodeJson(merged, written);
  }
  return out;
}

function mergeNode(target: PolicyNode, source: PolicyNode): void {
  for (const [key, child] of source.children) mergeNode(target.ensure(key), child);
}

// --- positions -----------------------------------------------------------------------------

function objectMembers(node: AnyNode): Array<{ name: string; value: AnyNode; nameNode: AnyNode }> {
  if (node.type !== 'Object') return [];
  return node.members.map((m) => ({
    name: m.name.type === 'String' ? m.name.value : m.name.name,
    value: m.value,
    nameNode: m.name,
  }));
}

function evaluate(node: AnyNode): unknown {
  switch (node.type) {
    case 'Object':
      return Object.fromEntries(objectMembers(node).map((m) => [m.name, evaluate(m.value)]));
    case 'Array':
      return node.elements.map((e) => evaluate(e.value));
    case 'String':
    case 'Number':
    case 'Boolean':
      return node.value;
    case 'Null':
      return null;
    default:
      return undefined;
  }
}

function checkDuplicateKeys(node: AnyNode, file: string, path: (string | number)[]): void {
  if (node.type === 'Object') {
    const seen = new Set<string>();
    for (const m of objectMembers(node)) {
      if (seen.has(m.name)) {
        const { line, column } = m.nameNode.loc.start;
        throw new LeashError(
          'ERR_LEASH_POLICY_PARSE',
          `${file}:${line}:${column}: duplicate key ${JSON.stringify(m.name)} at ${jsonPath(path)}`,
          { file, line, column, jsonPath: jsonPath(path) },
        );
      }
      seen.add(m.name);
      checkDuplicateKeys(m.value, file, [...path, m.name]);
    }
  } else if (node.type === 'Array') {
    for (const [i, e] of node.elements.entries()) checkDuplicateKeys(e.value, file, [...path, i]);
  }
}

/** The AST node at a path (its key's node when `atKey`), or the deepest existing ancestor. */
function nodeAt(body: AnyNode, path: readonly (string | number)[], atKey: boolean): AnyNode {
  let node = body;
  for (let i = 0; i < path.length; i++) {
    const step = path[i]!;
    if (node.type === 'Object') {
      const member = objectMembers(node).find((m) => m.name === step);
      if (member === undefined) return node;
      if (atKey && i === path.length - 1) return member.nameNode;
      node = member.value;
    } else if (node.type === 'Array' && typeof step === 'number' && node.elements[step]) {
      node = node.elements[step].value;
    } else return node;
  }
  return node;
}

export function jsonPath(path: readonly (string | number)[]): string {
  let out = '$';
  for (const step of path) {
    if (typeof step === 'number') out += `[${step}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(step)) out += `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}

function schemaError(
  file: string,
  body: AnyNode,
  path: readonly (string | number)[],
  reason: string,
  atKey = false,
): LeashError {
  const { line, column } = nodeAt(body, path, atKey).loc.start;
  const where = jsonPath(path);
  return new LeashError(
    'ERR_LEASH_POLICY_SCHEMA',
    `${file}:${line}:${column}: ${where}: ${reason}`,
    {
      file,
      line,
      column,
      jsonPath: where,
    },
  );
}
