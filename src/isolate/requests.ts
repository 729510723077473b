/**
 * @module
 * The requests the dispatcher has handed to workers, by request id: the route and principal the
 * token names, the inputs the dispatcher read from the request, and what the proxy returned so far
 * (for `=result` constraints). An entry lives as long as its token: work a route started goes on
 * after the response (a background export), and it keeps the route's database rights, no more.
 */
import { ResultMemory } from '../modules/sql/result-memory.ts';

export interface RequestRecord {
  readonly rid: string;
  readonly route: string;
  readonly group: string;
  readonly principal: string | undefined;
  /** Value → the sources it came from (`request.params.id`), as the sql module names them. */
  readonly inputs: ReadonlyMap<string, readonly string[]>;
  readonly memory: ResultMemory;
  /** The session ids the request's cookies carry: the only sessions its worker may touch. */
  readonly sessions: readonly string[];
  readonly expires: number;
}

export interface RequestRegistry {
  add(record: Omit<RequestRecord, 'memory'>): RequestRecord;
  get(rid: string): RequestRecord | undefined;
  readonly size: number;
}

export function createRequestRegistry(
  options: { maxRemembered?: number; now?: () => number } = {},
): RequestRegistry {
  const now = options.now ?? Date.now;
  const records = new Map<string, RequestRecord>();
  let sweptAt = now();
  const sweep = () => {
    const t = now();
    if (t - sweptAt < 1000) return;
    sweptAt = t;
    // Insertion order is expiry order: every token lives equally long.
    for (const [rid, record] of records) {
      if (record.expires > t) break;
      records.delete(rid);
    }
  };
  return {
    add(record) {
      sweep();
      const full = { ...record, memory: new ResultMemory(options.maxRemembered ?? 1000) };
      records.set(record.rid, full);
      return full;
    },
    get(rid) {
      sweep();
      const record = records.get(rid);
      return record !== undefined && record.expires > now() ? record : undefined;
    },
    get size() {
      return records.size;
    },
  };
}
