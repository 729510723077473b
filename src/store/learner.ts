/**
 * @module
 * A learning session inside a service: facts go into an in-memory pending policy on the hot path
 * (no I/O), and a flush merges them into the store now and then, at exit, and on SIGINT/SIGTERM.
 *
 * Signals: when the service has no SIGINT/SIGTERM listener of its own, Node's default is to exit;
 * leash's listener would cancel that default, so after flushing it removes itself and raises the
 * signal again, and the process ends by that signal as it would have without leash. When the
 * service has its own listeners, leash flushes and leaves the exit to them (its `exit` listener
 * saves whatever is learned after that).
 */
import { writeSync } from 'node:fs';
import type { SimplifyOptions } from '../core/kind.ts';
import { merge, type Policy, policyOf, simplify, treeFor } from '../core/policy.ts';
import {
  add,
  addRule,
  allows,
  coversRule,
  type Facts,
  type PolicyTree,
  type Rule,
} from '../core/tree.ts';
import type { ModuleRegistry } from '../module/module.ts';
import type { PolicyStore, ViolationRecord } from './store.ts';
import { violationKey } from './violations-file.ts';

export interface LearnerOptions {
  readonly store: PolicyStore;
  readonly modules: ModuleRegistry;
  /** How often `start()` flushes pending facts. Default 5000 ms. */
  readonly flushIntervalMs?: number;
  /** When given, every flush simplifies the merged policy with these options. */
  readonly simplifyOptions?: SimplifyOptions;
  /** Called when an automatic flush fails. Default: one line on stderr (repeats suppressed). */
  readonly onFlushError?: (error: unknown) => void;
  /** Called after each successful flush. */
  readonly onFlush?: (event: FlushEvent) => void;
  /**
   * Flushes as soon as this many new fact sequences are pending, so that a burst of distinct
   * facts (a crawler, a bulk import) is folded into the simplified policy instead of held raw.
   * Default 4096.
   */
  readonly maxPendingFacts?: number;
}

export interface FlushEvent {
  /** The stored policy after the flush. */
  readonly policy: Policy;
  /** New fact sequences this flush saved. */
  readonly facts: number;
  /** Distinct violations this flush saved. */
  readonly violations: number;
}

export interface Learner {
  /**
   * Learns a fact sequence; returns `true` when neither the policy as of the last flush nor the
   * pending facts allowed it yet. Throws `TypeError` for an unregistered module and
   * `FactShapeError` for facts that do not fit the module's kinds.
   */
  learn(module: string, facts: Facts): boolean;
  /**
   * Learns a rule given as keys (patterns allowed), e.g. the `<app>/**` a module-loader read folds
   * into. Returns `true` when the pending facts did not hold it yet.
   */
  learnRule(module: string, rule: Rule): boolean;
  /** Counts a violation in memory; saved with the next flush. */
  recordViolation(
    module: string,
    facts: Facts,
    mode: 'report' | 'enforce',
    nearest?: readonly string[],
  ): void;
  /**
   * Saves pending facts and violations now and returns the stored policy. Throws when the store
   * fails (the pending facts are kept for the next flush); automatic flushes report instead.
   */
  flush(): Policy;
  /** Flushes every `flushIntervalMs` (without keeping the process alive), at exit and on signals. */
  start(): void;
  /** Stops automatic flushing and flushes one last time (reporting, never throwing, an error). */
  stop(): void;
}

const DEFAULT_FLUSH_INTERVAL_MS = 5000;
const DEFAULT_MAX_PENDING_FACTS = 4096;

interface PendingViolation {
  readonly module: string;
  readonly facts: readonly string[];
  readonly mode: 'report' | 'enforce';
  count: number;
  firstSeen: number;
  lastSeen: number;
  nearest: readonly string[] | undefined;
}

export function createLearner(options: LearnerOptions): Learner {
  const { store, modules, simplifyOptions, onFlush } = options;
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  const maxPendingFacts = options.maxPendingFacts ?? DEFAULT_MAX_PENDING_FACTS;
  const onFlushError = options.onFlushError ?? defaultErrorReporter(store.location);

  /** The stored policy as of the last flush: what is already known. */
  let known = new Map<string, PolicyTree>();
  let pending = new Map<string, PolicyTree>();
  let pendingFacts = 0;
  let violations = new Map<string, PendingViolation>();
  let timer: NodeJS.Timeout | undefined;

  const hasPending = (): boolean => pendingFacts > 0 || violations.size > 0;

  const flush = (): Policy => {
    const additions = policyOf(pending);
    const saved = store.update((current) => {
      const merged = merge(current, additions);
      return simplifyOptions === undefined ? merged : simplify(merged, simplifyOptions);
    });
    known = new Map(saved.modules);
    // Nothing runs between the update and here (all synchronous), so these are the saved facts.
    const facts = pendingFacts;
    pending = new Map();
    pendingFacts = 0;
    const count = flushViolations();
    onFlush?.({ policy: saved, facts, violations: count });
    return saved;
  };

  const flushViolations = (): number => {
    if (violations.size === 0) return 0;
    const records: ViolationRecord[] = [];
    for (const v of violations.values()) {
      const record: ViolationRecord = {
        module: v.module,
        facts: v.facts,
        mode: v.mode,
        count: v.count,
        firstSeen: new Date(v.firstSeen).toISOString(),
        lastSeen: new Date(v.lastSeen).toISOString(),
      };
      records.push(v.nearest === undefined ? record : { ...record, nearest: v.nearest });
    }
    store.recordViolations(records);
    violations = new Map();
    return records.length;
  };

  const autoFlush = (): void => {
    if (!hasPending()) return;
    try {
      flush();
    } catch (error) {
      try {
        onFlushError(error);
      } catch {}
    }
  };

  const session: Session = { autoFlush };

  return {
    learn(module, facts) {
      const queued = pending.get(module);
      if (queued !== undefined && hasExact(queued, facts)) return false;
      const stored = known.get(module);
      if (stored !== undefined && allows(stored, facts, { nearest: false }).allowed) return false;
      const added = add(treeFor(pending, module, modules), facts);
      if (added && ++pendingFacts >= maxPendingFacts) autoFlush();
      return added;
    },

    learnRule(module, rule) {
      const stored = known.get(module);
      if (stored !== undefined && coversRule(stored, rule)) return false;
      const added = addRule(treeFor(pending, module, modules), rule);
      if (added && ++pendingFacts >= maxPendingFacts) autoFlush();
      return added;
    },

    recordViolation(module, facts, mode, nearest) {
      const key = violationKey(module, facts, mode);
      const now = Date.now();
      const v = violations.get(key);
      if (v === undefined) {
        violations.set(key, {
          module,
          facts: [...facts],
          mode,
          count: 1,
          firstSeen: now,
          lastSeen: now,
          nearest,
        });
      } else {
        v.count++;
        v.lastSeen = now;
        if (nearest !== undefined) v.nearest = nearest;
      }
    },

    flush,

    start() {
      if (timer !== undefined) return;
      timer = setInterval(autoFlush, flushIntervalMs);
      timer.unref();
      attach(session);
    },

    stop() {
      if (timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
      }
      detach(session);
      autoFlush();
    },
  };
}

/** Whether exactly these facts (as keys, no patterns) are in the tree. */
function hasExact(tree: PolicyTree, facts: Facts): boolean {
  let node = tree.root;
  let kind = tree.kind;
  for (let i = 0; i < facts.length; i++) {
    const key = kind.key(facts[i]!);
    const next = node.children.get(key);
    if (next === undefined) return false;
    node = next;
    const child = kind.child(key);
    if (child === null) return i === facts.length - 1;
    kind = child;
  }
  return false;
}

function defaultErrorReporter(location: string): (error: unknown) => void {
  let last: string | undefined;
  return (error) => {
    const message = error instanceof Error ? error.message : String(error);
    if (message === last) return;
    last = message;
    try {
      // Synchronous: this may run in an exit or signal handler.
      writeSync(
        2,
        `leash: could not save what was learned to ${location} (will retry): ${message}\n`,
      );
    } catch {}
  };
}

// --- process hooks, shared by every started learner --------------------------------------------

interface Session {
  readonly autoFlush: () => void;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const sessions = new Set<Session>();

function flushAll(): void {
  for (const session of sessions) session.autoFlush();
}

/** Run once when the process ends (exit or a signal leash handles), before the last flush. */
const endHooks = new Set<() => void>();

/**
 * Registers `hook` to run once when a learning process ends, by exit or by SIGINT/SIGTERM (where
 * the `exit` event does not come); returns how to unregister it. Only while a learner is started.
 */
export function atLearningEnd(hook: () => void): () => void {
  endHooks.add(hook);
  return () => endHooks.delete(hook);
}

function runEndHooks(): void {
  for (const hook of [...endHooks]) {
    endHooks.delete(hook);
    try {
      hook();
    } catch {}
  }
}

function onExit(): void {
  runEndHooks();
  flushAll();
}

function onSignal(signal: NodeJS.Signals): void {
  runEndHooks();
  flushAll();
  const listeners = process.listeners(signal);
  if (listeners.length === 1 && listeners[0] === onSignal) {
    // Only leash listens: without it Node would have exited by this signal, so do that.
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function attach(session: Session): void {
  if (sessions.size === 0) {
    process.on('exit', onExit);
    for (const signal of SIGNALS) process.on(signal, onSignal);
  }
  sessions.add(session);
}

function detach(session: Session): void {
  if (!sessions.delete(session) || sessions.size > 0) return;
  process.removeListener('exit', onExit);
  for (const signal of SIGNALS) process.removeListener(signal, onSignal);
}
