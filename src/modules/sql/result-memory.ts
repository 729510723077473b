/**
 * @module
 * What earlier queries of one request returned, for `=result.<template>.<column>` constraints.
 * Bounded (a request that reads a million rows keeps the first `max` values) and dropped with the
 * request. In enforce mode only the columns some constraint names are kept.
 */
import { comparable } from './sources.ts';

export class ResultMemory {
  readonly #values = new Map<string, string[]>();
  readonly #max: number;
  #size = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Remembers the rows a statement returned; `wanted` limits the columns (undefined: all). */
  remember(template: string, rows: readonly unknown[], wanted?: ReadonlySet<string>): void {
    for (const row of rows) {
      if (typeof row !== 'object' || row === null) continue;
      for (const [column, value] of Object.entries(row)) {
        const source = `result.${template}.${column}`;
        if (wanted !== undefined && !wanted.has(source)) continue;
        const text = comparable(value);
        if (text === undefined) continue;
        if (this.#size >= this.#max) return;
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

  clear(): void {
    this.#values.clear();
    this.#size = 0;
  }
}
