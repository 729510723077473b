/**
 * @module
 * What the benchmarks read from Linux's /proc about a process: CPU time (user + system, every
 * thread of the process, not its children), peak resident memory, proportional memory (PSS),
 * children, and CPU pinning with `taskset`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

let ticksPerSecond: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`, 100 on Linux). */
export function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      ticksPerSecond = 100;
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

export interface CpuTime {
  /** User time, seconds. */
  user: number;
  /** System time, seconds. */
  sys: number;
}

/** User and system CPU time of a process (all its threads, not its children), in seconds. */
export function cpuTime(pid: number): CpuTime {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may contain spaces: split after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const hz = clockTicks();
  return { user: Number(fields[11]) / hz, sys: Number(fields[12]) / hz };
}

export function cpuSeconds(time: CpuTime): number {
  return time.user + time.sys;
}

/** The direct children of a process (every thread's children list). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    try {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const child of text.split(/\s+/)) if (child !== '') out.push(Number(child));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** The command line of a process, as its words. */
export function commandOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
}

/** A field of /proc/<pid>/status in kibibytes (VmRSS, VmHWM), as bytes. */
function statusBytes(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match === null ? Number.NaN : Number(match[1]) * 1024;
}

/** The peak resident set size since start or since the last resetPeakRss (VmHWM), bytes. */
export function peakRss(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

export function currentRss(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/**
 * The proportional set size (/proc/<pid>/smaps_rollup `Pss`), bytes: resident memory with each
 * page shared by n processes counted 1/n in each, so that a sum over processes counts the Node
 * binary and other shared pages once. NaN where the file cannot be read.
 */
export function pss(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(rollup);
    return match === null ? Number.NaN : Number(match[1]) * 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Resets the peak RSS to the current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux 4.0+). Returns
 * false where that is not allowed; then the peak is since the process started.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Whether `taskset` exists and there is more than one core to pin to. */
export function canPin(): boolean {
  if (availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Pins every thread of a process (and what it starts later) to the given CPU list, e.g. "0".
 * Thread by thread, since threads come and go meanwhile (`taskset -a` gives up on one that ended).
 */
export function pin(pid: number, cpus: string): void {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    throw new Error(`cannot pin process ${pid}: it is gone`);
  }
  let pinned = 0;
  for (const task of tasks) {
    try {
      execFileSync('taskset', ['-p', '-c', cpus, task], { stdio: 'ignore' });
      pinned++;
    } catch {
      // The thread ended meanwhile.
    }
  }
  if (pinned === 0) throw new Error(`cannot pin process ${pid} to CPU ${cpus}`);
}

/** Pins a process and all its descendants present now. */
export function pinTree(pid: number, cpus: string): void {
  pin(pid, cpus);
  for (const child of childrenOf(pid)) pinTree(child, cpus);
}

export function cpuCount(): number {
  return availableParallelism();
}

export function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
