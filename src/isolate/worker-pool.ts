/**
 * @module
 * The worker processes of one group: each started ahead with its own channel (fd 4), violations
 * pipe (fd 3) and private port, restarted with a growing delay when it dies (at once on another
 * port when another process took its own), and handed requests in turn once it listens. A worker
 * runs in a process group of its own, so stopping it also ends what it started (a forked `tar`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import { LeashError } from '../errors.ts';
import { type Handler, serveChannel } from './sync-channel.ts';

/** The descriptors a worker finds its pipes on. */
export const WORKER_VIOLATIONS_FD = 3;
export const WORKER_CHANNEL_FD = 4;

export interface WorkerSlot {
  /** `g2#1`: the group and the slot's number in it. */
  readonly name: string;
  readonly group: string;
  /** The private port the supervisor told the worker to listen on (another when it was taken). */
  port: number;
  /** Whether the current process has started listening (its start-up is over). */
  started: boolean;
  pid: number | undefined;
  /** Processes started for this slot, the first included. */
  starts: number;
  /** Requests forwarded to this slot. */
  requests: number;
  /** Requests forwarded and not answered yet. */
  inFlight: number;
}

export function newSlot(name: string, group: string, port: number): WorkerSlot {
  return { name, group, port, started: false, pid: undefined, starts: 0, requests: 0, inFlight: 0 };
}

/** What a process of a slot runs; the port is in its environment and in its kernel rules. */
export interface WorkerProcess {
  readonly port: number;
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

export interface SlotSpec {
  /** The slot this spec fills (made with newSlot, so the caller can see its state). */
  readonly slot: WorkerSlot;
  /** The command to run (the sandbox launcher's, with the service's command at its end). */
  readonly command: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /**
   * The process for a new port, when a worker says its port was taken before it listened. Its
   * kernel rules let it bind that one port only, so a restart of the same command could never
   * listen: it takes another command. Without this, the slot is restarted on the same port.
   */
  readonly movePort?: () => Promise<WorkerProcess>;
  /** Answers the worker's channel messages ('ready' is handled here first). */
  readonly handle: Handler;
  /** Where the worker's standard output goes (default: this process's). */
  readonly stdout?: (chunk: Buffer) => void;
  /** Where the worker's violations pipe goes. */
  readonly violations?: (stream: Readable) => void;
  /** Called when a process of the slot ends (it is restarted unless the pool is stopping). */
  readonly exited?: (slot: WorkerSlot, code: number | null, signal: string | null) => void;
}

export interface WorkerPool {
  readonly slots: readonly WorkerSlot[];
  /** The listening slot with the fewest requests in flight (in turn among equals); undefined when none listens. */
  pick(): WorkerSlot | undefined;
  /** Starts one more slot (scaling up); resolves when it listens. */
  add(spec: SlotSpec): Promise<void>;
  /** Resolves when every slot has listened once; rejects when a slot dies before it does. */
  ready(): Promise<void>;
  /** Ends every worker (SIGTERM, then SIGKILL after `graceMs`) and restarts none. */
  stop(graceMs?: number): Promise<void>;
}

const MAX_BACKOFF_MS = 5000;
/** New ports tried at once, one after another, before a taken port is the slot's failure. */
export const MAX_PORT_MOVES = 3;

/** What the pool keeps of a slot between its processes. */
interface SlotRun {
  command: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Ports moved to since the slot last listened. */
  moves: number;
}

export function startWorkerPool(specs: readonly SlotSpec[]): WorkerPool {
  let stopping = false;
  let turn = 0;
  const children = new Map<WorkerSlot, ChildProcess>();
  const readiness: Promise<void>[] = [];

  const launch = (
    spec: SlotSpec,
    slot: WorkerSlot,
    run: SlotRun,
    first?: (error?: Error) => void,
  ) => {
    const [file, ...args] = run.command;
    slot.starts++;
    slot.started = false;
    // Set when this process says another process holds its port (it cannot listen, ever).
    let portTaken = false;
    const child = spawn(file!, args, {
      env: run.env,
      detached: true,
      stdio: ['ignore', spec.stdout === undefined ? 'inherit' : 'pipe', 'inherit', 'pipe', 'pipe'],
    });
    if (spec.stdout !== undefined) child.stdout?.on('data', spec.stdout);
    children.set(slot, child);
    slot.pid = child.pid;
    const began = Date.now();
    const channel = child.stdio[WORKER_CHANNEL_FD] as Duplex | null;
    // A worker that ends before it read a reply (killed just after asking) resets the channel:
    // an error the stream would throw in this process. The worker's exit is handled below.
    channel?.on('error', () => channel.destroy());
    if (channel !== null)
      serveChannel(
        channel,
        (message) => {
          if (message.kind === 'ready') {
            if (children.get(slot) === child) {
              slot.started = true;
              run.moves = 0;
            }
            first?.();
            return null;
          }
          if (message.kind === 'port-taken') {
            // Only before it listened: a worker cannot send a serving slot to another port. It
            // is ended rather than waited for, as a service may survive the error, not listening.
            if (children.get(slot) === child && !slot.started && !portTaken) {
              portTaken = true;
              setImmediate(() => killGroup(child, 'SIGKILL'));
            }
            return null;
          }
          return spec.handle(message);
        },
        // A worker that sends garbage is not a leash agent any more: end it (it is restarted).
        () => killGroup(child, 'SIGKILL'),
      );
    const violations = child.stdio[WORKER_VIOLATIONS_FD] as Readable | null;
    if (violations !== null && spec.violations !== undefined) spec.violations(violations);
    child.once('error', (error) => first?.(error));
    child.once('exit', (code, signal) => {
      const wasStarted = slot.started;
      slot.started = false;
      slot.pid = undefined;
      if (children.get(slot) === child) children.delete(slot);
      spec.exited?.(slot, code, signal);
      const moving = portTaken && spec.movePort !== undefined;
      // A few new ports at once, the start not failed yet: each is taken only by a process that
      // asked for that very port, so another one is almost always free.
      const atOnce = moving && run.moves < MAX_PORT_MOVES;
      if (moving) run.moves++;
      const who = slot.group === 'startup' ? 'the start-up process' : `worker ${slot.name}`;
      if (!wasStarted && !atOnce) {
        first?.(
          new LeashError(
            'ERR_LEASH_ISOLATE',
            portTaken
              ? `${who} could not listen on its port ${slot.port}: another process holds it${run.moves > 1 ? ` (the ${run.moves - 1} ports it was given before were taken too)` : ''}`
              : `${who} exited (${signal ?? code}) before it listened`,
          ),
        );
      }
      if (stopping) return;
      // A worker that lived a while starts again at once; one that keeps dying waits longer.
      const lived = Date.now() - began;
      const delay =
        atOnce || lived > 30_000 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (slot.starts - 1));
      setTimeout(() => {
        if (stopping) return;
        if (!moving) return launch(spec, slot, run);
        spec.movePort!().then(
          (next) => {
            if (stopping) return;
            slot.port = next.port;
            run.command = next.command;
            run.env = next.env;
            launch(spec, slot, run, atOnce ? first : undefined);
          },
          (error: Error) => {
            if (atOnce) first?.(error);
            // No port to move to: the old one again (a slot that keeps failing waits longer).
            if (!stopping) launch(spec, slot, run);
          },
        );
      }, delay).unref();
    });
  };

  const slots: WorkerSlot[] = [];
  const start = (spec: SlotSpec): Promise<void> => {
    slots.push(spec.slot);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const run = { command: spec.command, env: spec.env, moves: 0 };
      launch(spec, spec.slot, run, (error) => {
        if (settled) return;
        settled = true;
        if (error === undefined) resolve();
        else reject(error);
      });
    });
  };
  for (const spec of specs) readiness.push(start(spec));

  // The workers run in process groups of their own, so a supervisor that ends without stop()
  // (an uncaught error, process.exit) must end them itself: nothing else would.
  const killAll = () => {
    for (const child of children.values()) killGroup(child, 'SIGKILL');
  };
  process.once('exit', killAll);

  return {
    slots,
    pick() {
      let best: WorkerSlot | undefined;
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[(turn + i) % slots.length]!;
        if (slot.started && (best === undefined || slot.inFlight < best.inFlight)) best = slot;
      }
      if (best === undefined) return undefined;
      turn = (slots.indexOf(best) + 1) % slots.length;
      best.requests++;
      return best;
    },
    add(spec) {
      return start(spec);
    },
    async ready() {
      await Promise.all(readiness);
    },
    async stop(graceMs = 3000) {
      stopping = true;
      process.off('exit', killAll);
      await Promise.all(
        [...children.values()].map(
          (child) =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
              child.once('exit', () => {
                clearTimeout(timer);
                resolve();
              });
              killGroup(child, 'SIGTERM');
            }),
        ),
      );
    },
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
