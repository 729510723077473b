/**
 * @module
 * Where policies and recorded violations live. The file store keeps them next to the code; a
 * fleet will put them in PostgreSQL behind the same interface (DESIGN.md, "Where leash runs").
 *
 * The interface is synchronous on purpose: learned facts must reach the store from `exit` and
 * signal handlers, where nothing asynchronous runs. A networked store will implement it with a
 * local journal that it ships in the background.
 */
import type { Policy } from '../core/policy.ts';

/** One distinct violation, with how often and when it was seen. */
export interface ViolationRecord {
  readonly module: string;
  readonly facts: readonly string[];
  readonly mode: 'report' | 'enforce';
  readonly count: number;
  /** ISO timestamps. */
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** The nearest rule at the time, for review. */
  readonly nearest?: readonly string[];
}

export interface PolicyStore {
  /** The file path or URL, for messages. */
  readonly location: string;
  /** Reads the policy; an absent policy is empty. Throws `LeashError` when it cannot be read. */
  load(): Policy;
  /**
   * Replaces the stored policy by `change(current)` atomically with respect to every other writer
   * of the same store (processes included): nothing another writer merged is lost.
   */
  update(change: (current: Policy) => Policy): Policy;
  /** Recorded violations, merged by module and facts. */
  loadViolations(): ViolationRecord[];
  /** Adds counts and widens first/last seen of the given violations, atomically as `update`. */
  recordViolations(records: readonly ViolationRecord[]): void;
  /** Replaces recorded violations (after a review approves or dismisses some). */
  updateViolations(change: (current: ViolationRecord[]) => ViolationRecord[]): void;
}
