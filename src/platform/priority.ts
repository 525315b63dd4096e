/**
 * CPU priority of background work. The request path (the main thread and the query workers)
 * and the background work (graph builds, the managed Chroma's ingest and indexing) share the
 * machine's cores; at equal priority a bulk load's graph builds and Chroma's indexing take
 * their share of the CPU while the acknowledgements and queries wait for theirs. Linux nice
 * values are per thread: a thread that raises its own nice value yields the CPU to the
 * request path whenever both want it (and still gets all of an idle core), and the threads
 * and processes it starts afterwards inherit the value.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * The kernel id of the calling thread (Linux: from `/proc/thread-self`, "<pid>/task/<tid>"), or
 * undefined elsewhere, and where /proc belongs to another pid namespace than ours (its ids would
 * name other tasks).
 */
export function kernelThreadId(): number | undefined {
  try {
    const [pid, , tid] = readlinkSync('/proc/thread-self').split('/').map(Number);
    return pid === process.pid && Number.isInteger(tid) && tid! > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Raises the calling thread's nice value to `nice` (0–19); never lowers it, which would need
 * privileges and is not a background thread's to do. Returns the nice value in effect, or
 * undefined where the thread could not be reniced: not Linux (there `setpriority` would apply
 * to the whole process, so nothing is changed), or the system refused (a seccomp or LSM policy):
 * background work then runs at the engine's priority, which is a performance matter only.
 */
export function lowerThreadPriority(nice: number): number | undefined {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19) throw new RangeError(`nice must be an integer in 0..19, got ${nice}`);
  const tid = kernelThreadId();
  if (tid === undefined) return undefined;
  try {
    if (nice > getPriority(tid)) setPriority(tid, nice);
    return getPriority(tid);
  } catch {
    return undefined;
  }
}
