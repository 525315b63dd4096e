/**
 * Query coalescing ("smart batching"): queries wait here, not in the pool's queue, until a
 * worker is free, and everything that waited for the same collection view (and the same k, ef,
 * exact) then goes out together, split evenly into one task per worker; the first task goes to
 * the free worker and the others, ahead of any later query, to the next workers that free up.
 *
 * Dispatching a task costs tens of microseconds of main-thread time (structured clone,
 * postMessage, a wake-up, the reply), and each task costs the worker a message and a cold start;
 * under load a task carries every query that arrived while the workers were busy, so that cost
 * is shared. With a worker free, a query waits one `setImmediate` (the same loop turn's check
 * phase) and no more: the latency of a lightly loaded engine does not change.
 */
import type { CollectionTarget } from '../vector-index/collection.js';
import type { SearchOptions } from '../vector-index/scan.js';

export interface PartAnswer {
  refs: Float64Array;
  distances: Float32Array;
  runSeconds: number;
}

/** Runs one task; `since` (performance.now() ms) is when its oldest query started waiting. */
type RunPart = (target: CollectionTarget, queries: Float32Array, k: number, options: SearchOptions, since: number) => Promise<PartAnswer>;

interface Waiting {
  queries: Float32Array;
  resolve: (a: PartAnswer) => void;
  reject: (err: unknown) => void;
}

/** One task of a split group, waiting for a worker. */
interface Part extends Waiting {
  group: Group;
}

interface Group {
  target: CollectionTarget;
  k: number;
  options: SearchOptions;
  /** k, ef and exact as one string: the group's key among the view's groups. */
  key: string;
  waiting: Waiting[];
  rows: number;
  since: number;
}

export class QueryCoalescer {
  /** Tasks of groups already split, oldest first: they go out before any group. */
  private readonly ready: Part[] = [];
  /** Waiting groups, oldest first. */
  private readonly queue: Group[] = [];
  /** The same groups by view, then by options, for a new query to join its group. */
  private readonly groups = new Map<CollectionTarget, Map<string, Group>>();
  private scheduled = false;
  /** Tasks handed to the pool and not yet answered. */
  private running = 0;
  private waitingRows = 0;

  constructor(
    private readonly runPart: RunPart,
    /** Workers: at most this many tasks run at once, and a group is split into this many tasks. */
    private readonly parts: () => number,
  ) {}

  /** Query vectors (rows) waiting here for a free worker. */
  get waiting(): number {
    return this.waitingRows;
  }

  submit(target: CollectionTarget, queries: Float32Array, k: number, options: SearchOptions): Promise<PartAnswer> {
    return new Promise((resolve, reject) => {
      let byOptions = this.groups.get(target);
      if (!byOptions) this.groups.set(target, (byOptions = new Map()));
      const key = `${k}|${options.ef ?? ''}|${options.exact ? 1 : 0}`;
      let group = byOptions.get(key);
      if (!group) {
        byOptions.set(key, (group = { target, k, options, key, waiting: [], rows: 0, since: performance.now() }));
        this.queue.push(group);
      }
      const rows = queries.length / target.dimension;
      group.waiting.push({ queries, resolve, reject });
      group.rows += rows;
      this.waitingRows += rows;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  /** Hands waiting tasks, then the oldest waiting groups, to the free workers. */
  private pump(): void {
    while (this.running < this.parts()) {
      const part = this.ready.shift();
      if (part) {
        this.start(part);
        continue;
      }
      const group = this.queue.shift();
      if (!group) return;
      const byOptions = this.groups.get(group.target)!;
      byOptions.delete(group.key);
      if (byOptions.size === 0) this.groups.delete(group.target);
      this.split(group);
    }
  }

  private start(part: Part): void {
    this.running++;
    this.waitingRows -= part.queries.length / part.group.target.dimension;
    let answer: Promise<PartAnswer>;
    try {
      answer = this.runPart(part.group.target, part.queries, part.group.k, part.group.options, part.group.since);
    } catch (err) {
      answer = Promise.reject(err);
    }
    const done = (): void => {
      this.running--;
      this.pump();
    };
    answer.then(part.resolve, part.reject);
    answer.then(done, done);
  }

  /** Splits a group's rows evenly into one task per worker (fewer for fewer rows) and hands each caller its rows back. */
  private split(g: Group): void {
    const dim = g.target.dimension;
    if (g.waiting.length === 1 && g.rows === 1) {
      this.ready.push({ ...g.waiting[0]!, group: g });
      return;
    }
    const parts = Math.max(1, Math.min(this.parts(), g.rows));
    const per = Math.ceil(g.rows / parts);
    const buffers: Float32Array[] = [];
    for (let from = 0; from < g.rows; from += per) buffers.push(new Float32Array(Math.min(per, g.rows - from) * dim));
    let row = 0;
    for (const w of g.waiting) {
      for (let r = 0; r < w.queries.length / dim; r++, row++) {
        buffers[Math.floor(row / per)]!.set(w.queries.subarray(r * dim, (r + 1) * dim), (row % per) * dim);
      }
    }
    const runs = buffers.map((queries) => new Promise<PartAnswer>((resolve, reject) => this.ready.push({ queries, resolve, reject, group: g })));
    // Every part settles before any caller hears back: a caller that heard of a failure ends its
    // hold on the view (reclaimer) while a part still queued would then search a freed view.
    settleAll(runs).then(
      (answers) => {
        const runSeconds = answers.reduce((s, a) => s + a.runSeconds, 0) / g.waiting.length;
        let first = 0;
        for (const w of g.waiting) {
          const n = w.queries.length / dim;
          const refs = new Float64Array(n * g.k);
          const distances = new Float32Array(n * g.k);
          for (let r = 0; r < n; r++) {
            const global = first + r;
            const a = answers[Math.floor(global / per)]!;
            const at = (global % per) * g.k;
            refs.set(a.refs.subarray(at, at + g.k), r * g.k);
            distances.set(a.distances.subarray(at, at + g.k), r * g.k);
          }
          first += n;
          w.resolve({ refs, distances, runSeconds });
        }
      },
      (err: unknown) => {
        for (const w of g.waiting) w.reject(err);
      },
    );
  }
}

/** Like Promise.all, but rejects (with the first failure) only once every promise has settled. */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}
