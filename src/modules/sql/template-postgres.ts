/**
 * @module
 * PostgreSQL statement → template, with libpg-query (the real PostgreSQL parser, compiled to WASM)
 * and pgsql-deparser (its AST printer, of the same PostgreSQL major version).
 *
 * 1. Parse. 2. Walk the JSON AST and replace every constant (`A_Const`, except NULL) and every
 * parameter (`ParamRef`) with a numbered `ParamRef`; a parameter used twice keeps one number; an
 * `IN (…)` list made only of constants and parameters becomes one `ParamRef` (a list slot).
 * 3. Deparse each statement on one line, join them with `; `. 4. Parse the deparsed text again: it
 * must give exactly the walked tree (positions aside), else the statement is unparsable — so the
 * template text determines the tree, and two statements of different structure never share one.
 * 5. Renumber the slots in order of appearance in the text.
 *
 * Constants that are syntax rather than values stay in the text: `NULL`, type modifiers
 * (`varchar(20)`), options (`DefElem`: `BEGIN ISOLATION LEVEL …`, `COPY … WITH (…)`, function
 * bodies), positional `ORDER BY 1`/`GROUP BY 1`, and the field of `EXTRACT(epoch FROM …)`.
 */
import { createRequire } from 'node:module';
import { internal } from '../../attribution/internal.ts';
import { freezeTemplate, type SlotInfo, type Template, unparsable } from './template-common.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

let parseSync: ((sql: string) => unknown) | undefined;
let deparseSync: ((node: never, options: { pretty: boolean }) => string) | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads the parser: libpg-query (its WASM module, about 7 MB of the service's memory) and
 * pgsql-deparser. Only when PostgreSQL is met: a service that never loads a PostgreSQL driver
 * never pays for them. Both packages are read synchronously, as leash's own I/O (not the
 * service's: checked by no module); the WASM module then compiles asynchronously (10-25 ms). Later
 * calls return the same promise; after a failure the next call tries again.
 */
export function loadPostgres(): Promise<void> {
  loading ??= startLoading().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

async function startLoading(): Promise<void> {
  const require = createRequire(import.meta.url);
  const [pg, deparser] = internal(
    () =>
      [
        require('libpg-query') as typeof import('libpg-query'),
        require('pgsql-deparser') as typeof import('pgsql-deparser'),
      ] as const,
  );
  await pg.loadModule();
  parseSync = pg.parseSync;
  deparseSync = deparser.deparseSync as (node: never, options: { pretty: boolean }) => string;
}

export function isPostgresReady(): boolean {
  return parseSync !== undefined && deparseSync !== undefined;
}

const isObj = (value: Json | undefined): value is Obj =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The body of a one-key node wrapper (`{ A_Const: {...} }`) of the given type. */
function body(node: Json | undefined, type: string): Obj | undefined {
  if (!isObj(node)) return undefined;
  const inner = node[type];
  return isObj(inner) ? inner : undefined;
}

function parse(sql: string): Obj[] {
  let result: Json;
  try {
    result = parseSync!(sql) as Json;
  } catch (error) {
    throw unparsable('postgres', parserReason(error), { cause: error });
  }
  const stmts = isObj(result) && Array.isArray(result.stmts) ? result.stmts : [];
  return stmts.filter(isObj);
}

function parserReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const details = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
  const at = details?.cursorPosition;
  return typeof at === 'number' && at >= 0 ? `${error.message} (at offset ${at})` : error.message;
}

// ---------------------------------------------------------------------------------------------
// Walk: lift constants and parameters into numbered ParamRefs

type Source = SlotInfo['source'];

interface Occurrence {
  source: Source;
  column?: string;
  list?: true;
}

interface Walk {
  /** Temporary number − 1 → the slot's source. */
  readonly occurrences: Occurrence[];
  /** Original parameter number → temporary number. */
  readonly params: Map<number, number>;
}

const COMPARISONS = new Set([
  '=',
  '<>',
  '!=',
  '<',
  '>',
  '<=',
  '>=',
  '~~',
  '~~*',
  '!~~',
  '!~~*',
  '~',
  '~*',
  '!~',
  '!~*',
]);
const COMPARISON_KINDS = new Set([
  'AEXPR_OP_ANY',
  'AEXPR_OP_ALL',
  'AEXPR_DISTINCT',
  'AEXPR_NOT_DISTINCT',
  'AEXPR_LIKE',
  'AEXPR_ILIKE',
  'AEXPR_SIMILAR',
  'AEXPR_IN',
  'AEXPR_BETWEEN',
  'AEXPR_NOT_BETWEEN',
  'AEXPR_BETWEEN_SYM',
  'AEXPR_NOT_BETWEEN_SYM',
]);

function literalValue(aConst: Obj): string {
  for (const [field, key] of [
    ['ival', 'ival'],
    ['fval', 'fval'],
    ['sval', 'sval'],
    ['boolval', 'boolval'],
    ['bsval', 'bsval'],
  ] as const) {
    const inner = aConst[field];
    if (!isObj(inner)) continue;
    const value = inner[key];
    // The JSON leaves out zero values: `{ ival: {} }` is 0, `{ boolval: {} }` is false.
    if (field === 'ival') return String(value ?? 0);
    if (field === 'boolval') return value === true ? 'true' : 'false';
    return typeof value === 'string' ? value : '';
  }
  return '';
}

/** The bare column name of a column reference (through casts), if `node` is one. */
function columnOf(node: Json | undefined): string | undefined {
  const cast = body(node, 'TypeCast');
  if (cast !== undefined) return columnOf(cast.arg);
  const ref = body(node, 'ColumnRef');
  if (ref === undefined || !Array.isArray(ref.fields)) return undefined;
  const last = body(ref.fields.at(-1), 'String');
  return typeof last?.sval === 'string' ? last.sval : undefined;
}

function slotRef(number: number): Obj {
  return { ParamRef: { number } };
}

function lift(walk: Walk, source: Source, column: string | undefined, list?: true): Obj {
  const occurrence: Occurrence = { source };
  if (column !== undefined) occurrence.column = column;
  if (list) occurrence.list = true;
  walk.occurrences.push(occurrence);
  return slotRef(walk.occurrences.length);
}

function isLiftableItem(node: Json | undefined): boolean {
  const aConst = body(node, 'A_Const');
  return (aConst !== undefined && aConst.isnull !== true) || body(node, 'ParamRef') !== undefined;
}

function itemSource(node: Json | undefined): Source {
  const aConst = body(node, 'A_Const');
  if (aConst !== undefined) return { kind: 'literal', value: literalValue(aConst) };
  const number = body(node, 'ParamRef')?.number;
  return { kind: 'param', index: (typeof number === 'number' ? number : 0) - 1 };
}

/** Walks `node`; `column` is the column a constant directly here would be compared with. */
function walkNode(walk: Walk, node: Json, column?: string): Json {
  if (Array.isArray(node)) return node.map((item) => walkNode(walk, item, column));
  if (!isObj(node)) return node;
  const keys = Object.keys(node);
  const type = keys.length === 1 ? keys[0]! : undefined;
  const inner = type === undefined ? undefined : node[type];
  if (type === undefined || !isObj(inner) || !/^[A-Z]/.test(type)) return walkFields(walk, node);

  switch (type) {
    case 'A_Const':
      if (inner.isnull === true) return node;
      return lift(walk, { kind: 'literal', value: literalValue(inner) }, column);
    case 'ParamRef': {
      const number = typeof inner.number === 'number' ? inner.number : 0;
      const known = walk.params.get(number);
      if (known !== undefined) {
        const occurrence = walk.occurrences[known - 1]!;
        if (occurrence.column === undefined && column !== undefined) occurrence.column = column;
        return slotRef(known);
      }
      const ref = lift(walk, { kind: 'param', index: number - 1 }, column);
      walk.params.set(number, walk.occurrences.length);
      return ref;
    }
    case 'TypeCast':
      return { TypeCast: { ...inner, arg: walkNode(walk, inner.arg ?? null, column) } };
    case 'List':
      return { List: { ...inner, items: walkNode(walk, inner.items ?? [], column) } };
    // Syntax, not values.
    case 'TypeName':
    case 'DefElem':
      return node;
    case 'A_Expr':
      return { A_Expr: walkExpr(walk, inner) };
    case 'SortBy':
      return body(inner.node, 'A_Const') === undefined ? { SortBy: walkFields(walk, inner) } : node;
    case 'SelectStmt':
      return { SelectStmt: walkSelect(walk, inner) };
    case 'InsertStmt':
      return { InsertStmt: walkInsert(walk, inner) };
    case 'UpdateStmt':
      return { UpdateStmt: walkAssignments(walk, inner) };
    case 'FuncCall':
      return { FuncCall: walkFuncCall(walk, inner) };
    default:
      return { [type]: walkFields(walk, inner) };
  }
}

/** Fields that hold syntax even where they are inline structs: a type's name and modifiers. */
const SYNTAX_FIELDS = new Set(['typeName', 'typmods', 'arrayBounds']);

function walkFields(walk: Walk, node: Obj, except?: ReadonlySet<string>): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = except?.has(key) === true || SYNTAX_FIELDS.has(key) ? value : walkNode(walk, value);
  }
  return out;
}

function walkExpr(walk: Walk, expr: Obj): Obj {
  const kind = expr.kind;
  const operator = Array.isArray(expr.name) ? body(expr.name.at(-1), 'String')?.sval : undefined;
  const compares =
    (kind === 'AEXPR_OP' && typeof operator === 'string' && COMPARISONS.has(operator)) ||
    (typeof kind === 'string' && COMPARISON_KINDS.has(kind));
  const left = compares ? columnOf(expr.lexpr) : undefined;
  const right = compares ? columnOf(expr.rexpr) : undefined;
  const out = walkFields(walk, expr, new Set(['lexpr', 'rexpr']));
  if (expr.lexpr !== undefined) out.lexpr = walkNode(walk, expr.lexpr, right);

  const list = body(expr.rexpr, 'List');
  const items = list?.items;
  if (kind === 'AEXPR_IN' && Array.isArray(items) && items.length > 0) {
    if (items.every(isLiftableItem)) {
      const source: Source = { kind: 'list', items: items.map(itemSource) as never };
      out.rexpr = { List: { items: [lift(walk, source, left, true)] } };
      return out;
    }
  }
  if (expr.rexpr !== undefined) out.rexpr = walkNode(walk, expr.rexpr, left);
  return out;
}

function walkSelect(walk: Walk, select: Obj, columns?: readonly (string | undefined)[]): Obj {
  const out = walkFields(walk, select, new Set(['groupClause', 'valuesLists']));
  if (Array.isArray(select.groupClause)) {
    // `GROUP BY 1` names the first output column: syntax.
    out.groupClause = select.groupClause.map((item) =>
      body(item, 'A_Const') === undefined ? walkNode(walk, item) : item,
    );
  }
  if (Array.isArray(select.valuesLists)) {
    out.valuesLists = select.valuesLists.map((row) => {
      const list = body(row, 'List');
      if (list === undefined || !Array.isArray(list.items)) return walkNode(walk, row);
      const rowItems = list.items.map((item, i) => walkNode(walk, item, columns?.[i]));
      return { List: { ...list, items: rowItems } };
    });
  }
  return out;
}

function walkInsert(walk: Walk, insert: Obj): Obj {
  const out = walkFields(walk, insert, new Set(['selectStmt', 'onConflictClause']));
  const columns = Array.isArray(insert.cols)
    ? insert.cols.map((col) => {
        const name = body(col, 'ResTarget')?.name;
        return typeof name === 'string' ? name : undefined;
      })
    : undefined;
  const select = body(insert.selectStmt, 'SelectStmt');
  if (select !== undefined) out.selectStmt = { SelectStmt: walkSelect(walk, select, columns) };
  else if (insert.selectStmt !== undefined) out.selectStmt = walkNode(walk, insert.selectStmt);
  // ON CONFLICT … DO UPDATE SET col = value (an inline struct, not a wrapped node).
  if (isObj(insert.onConflictClause)) {
    out.onConflictClause = walkAssignments(walk, insert.onConflictClause);
  } else if (insert.onConflictClause !== undefined) {
    out.onConflictClause = walkNode(walk, insert.onConflictClause);
  }
  return out;
}

/**
 * UPDATE and ON CONFLICT DO UPDATE: `SET col = value` gives the value's column. In
 * `SET (a, b) = (…)` every target repeats the row's AST (`MultiAssignRef`): walk it once.
 */
function walkAssignments(walk: Walk, node: Obj): Obj {
  const out = walkFields(walk, node, new Set(['targetList']));
  if (!Array.isArray(node.targetList)) return out;
  const targets = node.targetList;
  let row: Json | undefined;
  out.targetList = targets.map((item, i) => {
    const target = body(item, 'ResTarget');
    if (target === undefined) return walkNode(walk, item);
    const name = typeof target.name === 'string' ? target.name : undefined;
    const walked = walkFields(walk, target, new Set(['val']));
    const multi = body(target.val, 'MultiAssignRef');
    if (multi !== undefined) {
      if (multi.colno === 1 || row === undefined) {
        const names = targets.slice(i).map((other) => {
          const otherName = body(other, 'ResTarget')?.name;
          return typeof otherName === 'string' ? otherName : undefined;
        });
        const rowExpr = body(multi.source, 'RowExpr');
        row =
          rowExpr !== undefined && Array.isArray(rowExpr.args)
            ? {
                RowExpr: {
                  ...walkFields(walk, rowExpr, new Set(['args'])),
                  args: rowExpr.args.map((arg, k) => walkNode(walk, arg, names[k])),
                },
              }
            : walkNode(walk, multi.source ?? null);
      }
      walked.val = { MultiAssignRef: { ...multi, source: row } };
    } else if (target.val !== undefined) {
      walked.val = walkNode(walk, target.val, name);
    }
    return { ResTarget: walked };
  });
  return out;
}

function walkFuncCall(walk: Walk, call: Obj): Obj {
  const name = Array.isArray(call.funcname)
    ? body(call.funcname.at(-1), 'String')?.sval
    : undefined;
  // `EXTRACT(epoch FROM x)`, `NORMALIZE(x, NFC)`: keywords the AST keeps as string constants.
  const keyword = name === 'extract' ? 0 : name === 'normalize' ? 1 : -1;
  if (keyword >= 0 && call.funcformat === 'COERCE_SQL_SYNTAX' && Array.isArray(call.args)) {
    const out = walkFields(walk, call, new Set(['args']));
    out.args = call.args.map((arg, i) => (i === keyword ? arg : walkNode(walk, arg)));
    return out;
  }
  return walkFields(walk, call);
}

// ---------------------------------------------------------------------------------------------
// Round trip

const POSITION_KEYS = new Set([
  'location',
  'stmt_location',
  'stmt_len',
  'list_start',
  'list_end',
  'rexpr_list_start',
  'rexpr_list_end',
  'name_location',
]);

/** Deep equality of two ASTs, positions aside. */
function sameTree(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameTree(a[i], b[i])) return false;
    return true;
  }
  if (!isObj(a) || !isObj(b)) return false;
  const keysA = Object.keys(a).filter((key) => !POSITION_KEYS.has(key));
  const keysB = Object.keys(b).filter((key) => !POSITION_KEYS.has(key));
  if (keysA.length !== keysB.length) return false;
  for (const key of keysA) if (!(key in b) || !sameTree(a[key], b[key])) return false;
  return true;
}

/** Every ParamRef in `node`: its number and its byte offset in the parsed text. */
function collectParams(node: Json | undefined, out: { number: number; location: number }[]): void {
  if (Array.isArray(node)) {
    for (const item of node) collectParams(item, out);
    return;
  }
  if (!isObj(node)) return;
  const ref = body(node, 'ParamRef');
  if (ref !== undefined && Object.keys(node).length === 1) {
    if (typeof ref.number === 'number' && typeof ref.location === 'number') {
      out.push({ number: ref.number, location: ref.location });
    }
    return;
  }
  for (const value of Object.values(node)) collectParams(value, out);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range
const ASCII = /^[\x00-\x7f]*$/;

export function postgresTemplate(sql: string): Template {
  if (parseSync === undefined || deparseSync === undefined) {
    // Refused (never allowed) while it loads; drivers whose API can wait hold their statements
    // until it has (SqlChecker.defer).
    loadPostgres().catch(() => {});
    throw unparsable(
      'postgres',
      'the PostgreSQL parser is still loading (`await prepareSqlParsers()` waits for it)',
      { notReady: true },
    );
  }
  const stmts = parse(sql);
  if (stmts.length === 0) throw unparsable('postgres', 'no statement');

  const walk: Walk = { occurrences: [], params: new Map() };
  const walked = stmts.map((raw) => walkNode(walk, raw.stmt ?? null));

  let text: string;
  try {
    text = walked.map((stmt) => deparseSync!(stmt as never, { pretty: false }).trim()).join('; ');
  } catch (error) {
    throw unparsable('postgres', `the deparser cannot print it (${String(error)})`, {
      cause: error,
    });
  }

  let again: Obj[];
  try {
    again = parse(text);
  } catch (error) {
    throw unparsable('postgres', 'the deparser does not print it back as valid SQL', {
      cause: error,
    });
  }
  if (
    again.length !== walked.length ||
    !walked.every((stmt, i) => sameTree(stmt, again[i]?.stmt))
  ) {
    throw unparsable('postgres', 'the deparser does not print it back exactly');
  }

  // Renumber in order of appearance in the text.
  const found: { number: number; location: number }[] = [];
  for (const stmt of again) collectParams(stmt.stmt, found);
  found.sort((a, b) => a.location - b.location);
  // The AST repeats some subtrees (a `SET (a, b) = (…)` row under each target): one text each.
  const refs = found.filter((ref, i) => i === 0 || ref.location !== found[i - 1]!.location);
  const finalOf = new Map<number, number>();
  for (const ref of refs) if (!finalOf.has(ref.number)) finalOf.set(ref.number, finalOf.size + 1);
  if (finalOf.size !== walk.occurrences.length) {
    throw unparsable('postgres', 'the deparser does not print every value');
  }

  const ascii = ASCII.test(text);
  const bytes = ascii ? undefined : Buffer.from(text, 'utf8');
  const parts: string[] = [];
  let at = 0;
  for (const ref of refs) {
    const width = 1 + String(ref.number).length;
    parts.push(
      bytes === undefined ? text.slice(at, ref.location) : bytes.toString('utf8', at, ref.location),
      `$${finalOf.get(ref.number)}`,
    );
    at = ref.location + width;
  }
  parts.push(bytes === undefined ? text.slice(at) : bytes.toString('utf8', at));

  const slots: SlotInfo[] = new Array(walk.occurrences.length);
  walk.occurrences.forEach((occurrence, i) => {
    const n = finalOf.get(i + 1)!;
    slots[n - 1] = {
      slot: `$${n}`,
      source: occurrence.source,
      ...(occurrence.list ? { list: true as const } : {}),
      ...(occurrence.column === undefined ? {} : { column: occurrence.column }),
    };
  });
  return freezeTemplate(parts.join(''), slots);
}
