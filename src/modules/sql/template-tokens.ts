/**
 * @module
 * What the token-based dialects (SQLite, MySQL) share once a statement is a list of output tokens:
 * which column a slot's value is compared with or written to (best effort), the template text (one
 * space between tokens except inside `( )`, before `,`, around `.`, between a name and its `(`),
 * and the numbering of slots in order of appearance.
 */
import { freezeTemplate, type SlotInfo, type Template } from './template-common.ts';

export type OutClass = 'keyword' | 'name' | 'slot' | 'literal' | 'op' | '(' | ')' | ',' | '.' | ';';

/** One token of a template. */
export interface Out {
  readonly text: string;
  readonly cls: OutClass;
  /** Names: the unquoted name. */
  readonly name?: string;
  /** Slots: the index of the occurrence. */
  readonly occurrence?: number;
}

/** One slot before numbering: where its value comes from. */
export interface Occurrence {
  source: SlotInfo['source'];
  list?: true;
  column?: string;
}

/** The operators and words of a dialect that the column finder needs. */
export interface ColumnSyntax {
  /** Comparison operators (`=`, `<>`, …). */
  readonly comparisonOps: ReadonlySet<string>;
  /** Comparison keywords (`LIKE`, `IS`, `IN`, …). */
  readonly comparisonWords: ReadonlySet<string>;
  /** Operators that bind tighter than a comparison: `a + b = ?` does not compare column b. */
  readonly tighter: ReadonlySet<string>;
}

/** Gives slots their columns where obvious (`col = $n`, `col IN ($n)`, INSERT lists, `SET col = $n`). */
export function findColumns(
  out: readonly Out[],
  occurrences: Occurrence[],
  syntax: ColumnSyntax,
): void {
  new ColumnFinder(out, occurrences, syntax).columns();
}

class ColumnFinder {
  private readonly out: readonly Out[];
  private readonly occurrences: Occurrence[];
  private readonly syntax: ColumnSyntax;

  constructor(out: readonly Out[], occurrences: Occurrence[], syntax: ColumnSyntax) {
    this.out = out;
    this.occurrences = occurrences;
    this.syntax = syntax;
  }

  /** The column of a `name[.name…]` chain ending at `end`, if nothing binds it tighter. */
  private chainBefore(end: number): string | undefined {
    const out = this.out;
    let k = end;
    if (out[k]?.cls !== 'name') return undefined;
    const column = out[k]!.name;
    while (out[k - 1]?.cls === '.' && out[k - 2]?.cls === 'name') k -= 2;
    const before = out[k - 1];
    if (before?.cls === '.' || (before?.cls === 'op' && this.syntax.tighter.has(before.text)))
      return undefined;
    if (before?.cls === 'keyword' && before.text === 'COLLATE') return undefined;
    return column;
  }

  private chainAfter(start: number): string | undefined {
    const out = this.out;
    let k = start;
    if (out[k]?.cls !== 'name') return undefined;
    while (out[k + 1]?.cls === '.' && out[k + 2]?.cls === 'name') k += 2;
    const after = out[k + 1];
    if (after?.cls === '.' || after?.cls === '(') return undefined;
    if (after?.cls === 'op' && this.syntax.tighter.has(after.text)) return undefined;
    if (after?.cls === 'keyword' && after.text === 'COLLATE') return undefined;
    return out[k]!.name;
  }

  private columnAt(k: number): string | undefined {
    const out = this.out;
    let j = k - 1;
    if (out[j]?.cls === '(' && out[j - 1]?.text === 'IN') j--; // col [NOT] IN ($k)
    // col [NOT] BETWEEN $1 AND $k
    if (out[j]?.text === 'AND' && out[j - 1]?.cls === 'slot' && out[j - 2]?.text === 'BETWEEN') {
      j -= 2;
    }
    const op = out[j];
    if (op !== undefined) {
      const compares =
        (op.cls === 'op' && this.syntax.comparisonOps.has(op.text)) ||
        (op.cls === 'keyword' &&
          (this.syntax.comparisonWords.has(op.text) || op.text === 'BETWEEN'));
      if (compares) {
        const before = out[j - 1]?.text === 'NOT' && op.text !== 'IS' ? j - 2 : j - 1;
        const column = this.chainBefore(before);
        if (column !== undefined) return column;
      } else if (op.text === 'NOT' && out[j - 1]?.text === 'IS') {
        return this.chainBefore(j - 2); // col IS NOT $k
      }
    }
    // $k = col
    const after = out[k + 1];
    const before = out[k - 1];
    if (
      after?.cls === 'op' &&
      this.syntax.comparisonOps.has(after.text) &&
      !(before?.cls === 'op' && this.syntax.tighter.has(before.text))
    ) {
      return this.chainAfter(k + 2);
    }
    return undefined;
  }

  columns(): void {
    const out = this.out;
    for (let k = 0; k < out.length; k++) {
      const item = out[k]!;
      if (item.cls !== 'slot') continue;
      const occurrence = this.occurrences[item.occurrence!]!;
      if (occurrence.column !== undefined) continue;
      const column = this.columnAt(k);
      if (column !== undefined) occurrence.column = column;
    }
    this.insertColumns();
  }

  /** `INSERT … INTO t [AS a] (c1, c2) VALUES ($1, $2), …`: a value that is one slot gets its column. */
  private insertColumns(): void {
    const out = this.out;
    let k = out.findIndex((item) => item.text === 'INTO');
    if (
      k < 0 ||
      !out.slice(0, k).some((item) => item.text === 'INSERT' || item.text === 'REPLACE')
    ) {
      return;
    }
    k++;
    if (out[k]?.cls !== 'name') return;
    while (out[k + 1]?.cls === '.' && out[k + 2]?.cls === 'name') k += 2;
    k++;
    if (out[k]?.text === 'AS' && out[k + 1]?.cls === 'name') k += 2;
    if (out[k]?.cls !== '(') return;
    const columns: string[] = [];
    for (k++; ; k += 2) {
      if (out[k]?.cls !== 'name') return;
      columns.push(out[k]!.name!);
      if (out[k + 1]?.cls === ')') break;
      if (out[k + 1]?.cls !== ',') return;
    }
    k += 2;
    if (out[k]?.text !== 'VALUES') return;
    k++;
    while (out[k]?.cls === '(') {
      let depth = 0;
      let element = 0;
      let start = k + 1;
      for (k++; k < out.length; k++) {
        const item = out[k]!;
        if (item.cls === '(') depth++;
        else if (depth > 0 && item.cls === ')') depth--;
        else if (depth === 0 && (item.cls === ',' || item.cls === ')')) {
          const value = out[start];
          const column = columns[element];
          if (k === start + 1 && value?.cls === 'slot' && column !== undefined) {
            this.occurrences[value.occurrence!]!.column ??= column;
          }
          element++;
          start = k + 1;
          if (item.cls === ')') break;
        }
      }
      k++;
      if (out[k]?.cls !== ',') return;
      k++;
    }
  }
}

/**
 * The text of one statement's tokens; `callLike` says which keywords take their `(` without a space
 * (`CAST(`), as a name does.
 */
export function joinOut(
  out: readonly Out[],
  numberOf: (occurrence: number) => number,
  callLike: ReadonlySet<string>,
): string {
  let text = '';
  let previous: Out | undefined;
  for (const item of out) {
    const piece = item.cls === 'slot' ? `$${numberOf(item.occurrence!)}` : item.text;
    const glue =
      previous === undefined ||
      previous.cls === '(' ||
      previous.cls === '.' ||
      item.cls === ')' ||
      item.cls === ',' ||
      item.cls === '.' ||
      item.cls === ';' ||
      (item.cls === '(' &&
        (previous.cls === 'name' || (previous.cls === 'keyword' && callLike.has(previous.text))));
    text += glue ? piece : ` ${piece}`;
    previous = item;
  }
  return text;
}

/** Numbers the slots of `outs` (one per statement) in order of appearance; the frozen template. */
export function numberSlots(
  outs: readonly (readonly Out[])[],
  occurrences: readonly Occurrence[],
  callLike: ReadonlySet<string>,
): Template {
  const numbers = new Map<number, number>();
  for (const out of outs) {
    for (const item of out) {
      if (item.cls === 'slot' && !numbers.has(item.occurrence!)) {
        numbers.set(item.occurrence!, numbers.size + 1);
      }
    }
  }
  const numberOf = (occurrence: number): number => numbers.get(occurrence)!;
  const text = outs.map((out) => joinOut(out, numberOf, callLike)).join('; ');
  const slots: SlotInfo[] = new Array(occurrences.length);
  occurrences.forEach((occurrence, i) => {
    const n = numberOf(i);
    slots[n - 1] = {
      slot: `$${n}`,
      source: occurrence.source,
      ...(occurrence.list ? { list: true as const } : {}),
      ...(occurrence.column === undefined ? {} : { column: occurrence.column }),
    };
  });
  return freezeTemplate(text, slots);
}
