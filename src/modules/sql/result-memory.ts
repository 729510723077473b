/**
 * @module
 * What earlier queries of one request returned, for `=result.<template>.<column>` constraints.
 * Bounded (a request that reads a million rows keeps the first `max` values) and dropped with the
 * request. In enforce mode only the columns some constraint names are kept.
 */
import { comparable } from './sources.ts';

/** Per set of wanted sources: each template's wanted columns (what `result.<id>.<column>` names). */
const columnsByWanted = new WeakMap<ReadonlySet<string>, Map<string, ReadonlySet<string>>>();
const NO_COLUMNS: ReadonlySet<string> = new Set();

/**
 * The columns of `template` that `wanted` names (`result.<template>.<column>`), computed once per
 * template: a statement whose results no constraint uses keeps nothing, and a row's other
 * columns cost no source name.
 */
export function wantedColumns(wanted: ReadonlySet<string>, template: string): ReadonlySet<string> {
  let byTemplate = columnsByWanted.get(wanted);
  if (byTemplate === undefined) {
    byTemplate = new Map();
    columnsByWanted.set(wanted, byTemplate);
  }
  let columns = byTemplate.get(template);
  if (columns === undefined) {
    const prefix = `result.${template}.`;
    const found = new Set<string>();
    for (const source of wanted)
      if (source.startsWith(prefix)) found.add(source.slice(prefix.length));
    columns = found.size === 0 ? NO_COLUMNS : found;
    if (byTemplate.size > 10_000) byTemplate.clear();
    byTemplate.set(template, columns);
  }
  return columns;
}

/** `result.<template>.<column>` per template and column, made once (rows repeat their columns). */
const sourceNames = new Map<string, Map<string, string>>();

function sourceName(template: string, column: string): string {
  let byColumn = sourceNames.get(template);
  if (byColumn === undefined) {
    if (sourceNames.size > 10_000) sourceNames.clear();
    byColumn = new Map();
    sourceNames.set(template, byColumn);
  }
  let name = byColumn.get(column);
  if (name === undefined) {
    name = `result.${template}.${column}`;
    if (byColumn.size < 1000) byColumn.set(column, name);
  }
  return name;
}

export class ResultMemory {
  readonly #values = new Map<string, string[]>();
  readonly #max: number;
  #size = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Remembers the rows a statement returned; `wanted` limits the columns (undefined: all). */
  remember(template: string, rows: readonly unknown[], wanted?: ReadonlySet<string>): void {
    const columns = wanted === undefined ? undefined : wantedColumns(wanted, template);
    if (columns?.size === 0) return;
    for (const row of rows) {
      if (typeof row !== 'object' || row === null) continue;
      // The row's own order, as Object.entries gives it: with the bound, it decides what is kept.
      for (const column of Object.keys(row)) {
        if (columns !== undefined && !columns.has(column)) continue;
        const text = comparable((row as Record<string, unknown>)[column]);
        if (text === undefined) continue;
        if (this.#size >= this.#max) return;
        const source = sourceName(template, column);
        const list = this.#values.get(text);
        if (list === undefined) this.#values.set(text, [source]);
        else if (!list.includes(source)) list.push(source);
        else continue;
        this.#size++;
      }
    }
  }

  sourcesOf(value: string): readonly string[] {
    return this.#values.get(value) ?? [];
  }
}
