/**
 * CPU priority of background work, and the scheduling policy of the query workers (below).
 * The request path (the main thread and the query workers)
 * and the background work (graph builds, the managed Chroma's ingest and indexing) share the
 * machine's cores; at equal priority a bulk load's graph builds and Chroma's indexing take
 * their share of the CPU while the acknowledgements and queries wait for theirs. Linux nice
 * values are per thread: a thread that raises its own nice value yields the CPU to the
 * request path whenever both want it (and still gets all of an idle core), and the threads
 * and processes it starts afterwards inherit the value.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
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

/** Linux scheduling policies as /proc reports them (field 41 of a task's `stat`). */
export const SchedPolicy = { OTHER: 0, BATCH: 3 } as const;

/** The scheduling policy of a thread of this process (Linux), or undefined where unknown. */
export function threadPolicy(tid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, policy field 41.
    const policy = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
    return Number.isInteger(policy) ? policy : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Puts the calling thread under SCHED_BATCH (Linux): the scheduler then treats it as a
 * throughput thread, and waking it preempts no running thread. Query workers use it (by default;
 * `--worker-sched batch`) so that the main thread, which wakes a worker for every task it hands
 * over, keeps its CPU and goes on reading requests and writing answers instead of being
 * switched out for the worker it just woke (a worker still gets any idle core at once, and its
 * share of a busy one). The price: a woken worker does not preempt background work either (the
 * graph builder, the managed Chroma), however low their priority, so during a bulk load it may
 * wait up to a scheduler slice (measured: no harm beyond the noise, see the README). Node has no binding for sched_setscheduler, so util-linux's
 * `chrt` is run once on the thread's id; a non-real-time policy needs no privilege for one's own
 * threads. Returns whether the thread now runs under SCHED_BATCH; false where it could not be
 * set (not Linux, no `chrt`, refused by a seccomp or LSM policy, a real-time policy already):
 * a performance matter only.
 */
export function batchThreadPolicy(): boolean {
  const tid = kernelThreadId();
  if (tid === undefined) return false;
  const policy = threadPolicy(tid);
  // Only from the normal policy: a thread started under a real-time one is not demoted.
  if (policy !== SchedPolicy.OTHER) return policy === SchedPolicy.BATCH;
  const chrt = chrtPath();
  if (!chrt) return false;
  try {
    // A call takes a few ms; a worker's first task waits for it.
    execFileSync(chrt, ['--batch', '--pid', '0', String(tid)], { stdio: 'ignore', timeout: 1000 });
  } catch {
    return false;
  }
  return threadPolicy(tid) === SchedPolicy.BATCH;
}

/** util-linux's `chrt`, by absolute path (the search PATH is not consulted), or undefined. */
export function chrtPath(): string | undefined {
  return ['/usr/bin/chrt', '/bin/chrt'].find((path) => existsSync(path));
}
