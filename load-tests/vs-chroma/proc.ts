/**
 * CPU time of other processes from /proc (Linux): the whole process, every thread, so a
 * server's CPU per query can be compared whatever its threading.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** User + system CPU seconds the process has used so far; NaN when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return Number.NaN;
  }
}

/**
 * Waits until every process uses less than `cores` CPU over one-second windows (background
 * flushing, compaction, index building done). Resolves false on timeout.
 */
export async function waitQuiet(pids: number[], options: { cores?: number; timeoutMs: number }): Promise<boolean> {
  const limit = options.cores ?? 0.05;
  const deadline = Date.now() + options.timeoutMs;
  let quietWindows = 0;
  while (Date.now() < deadline) {
    const before = pids.map(cpuSeconds);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busy = pids.some((pid, i) => cpuSeconds(pid) - before[i]! > limit);
    quietWindows = busy ? 0 : quietWindows + 1;
    if (quietWindows >= 2) return true;
  }
  return false;
}

/** CPU seconds of every thread of a process by thread id (Linux); empty when it cannot be read. */
export function threadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / clockTicks());
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/** Where a process's CPU went between two `threadCpuSeconds` readings. */
export interface ThreadSplit {
  /** The main thread (its id is the pid). */
  main: number;
  /** The `busiest` other threads together (for hotvec under query load: its query workers). */
  busiest: number;
  /** Every other thread (V8's GC and compiler helpers, libuv, native libraries). */
  other: number;
}

export function threadSplit(pid: number, before: Map<number, number>, after: Map<number, number>, busiest: number): ThreadSplit {
  const deltas: number[] = [];
  let main = 0;
  for (const [tid, cpu] of after) {
    const d = cpu - (before.get(tid) ?? 0);
    if (tid === pid) main = d;
    else deltas.push(d);
  }
  deltas.sort((a, b) => b - a);
  const top = deltas.slice(0, busiest).reduce((a, b) => a + b, 0);
  const other = deltas.slice(busiest).reduce((a, b) => a + b, 0);
  return { main, busiest: top, other };
}
