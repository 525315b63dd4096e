/**
 * Query coalescing: the queries that arrive in one turn of the event loop for the same
 * collection view (and the same k, ef, exact) are sent to the workers together, split into at
 * most one task per worker. Dispatching a task costs tens of microseconds of main-thread time
 * (structured clone, postMessage, wake-up), about as much as parsing the query: under load,
 * one task per worker per turn instead of one per query leaves that time to the search.
 * A lone query waits one `setImmediate` (the same loop turn's check phase), nothing more.
 */
import type { CollectionTarget } from '../vector-index/collection.js';
import type { SearchOptions } from '../vector-index/scan.js';

export interface PartAnswer {
  refs: Float64Array;
  distances: Float32Array;
  runSeconds: number;
}

type RunPart = (target: CollectionTarget, queries: Float32Array, k: number, options: SearchOptions) => Promise<PartAnswer>;

interface Waiting {
  queries: Float32Array;
  resolve: (a: PartAnswer) => void;
  reject: (err: unknown) => void;
}

interface Group {
  target: CollectionTarget;
  k: number;
  options: SearchOptions;
  waiting: Waiting[];
  rows: number;
}

export class QueryCoalescer {
  private groups = new Map<CollectionTarget, Map<string, Group>>();
  private scheduled = false;

  constructor(
    private readonly runPart: RunPart,
    private readonly parts: () => number,
  ) {}

  submit(target: CollectionTarget, queries: Float32Array, k: number, options: SearchOptions): Promise<PartAnswer> {
    return new Promise((resolve, reject) => {
      let byOptions = this.groups.get(target);
      if (!byOptions) this.groups.set(target, (byOptions = new Map()));
      const key = `${k}|${options.ef ?? ''}|${options.exact ? 1 : 0}`;
      let group = byOptions.get(key);
      if (!group) byOptions.set(key, (group = { target, k, options, waiting: [], rows: 0 }));
      group.waiting.push({ queries, resolve, reject });
      group.rows += queries.length / target.dimension;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const groups = this.groups;
    this.groups = new Map();
    for (const byOptions of groups.values()) for (const g of byOptions.values()) this.dispatch(g);
  }

  /** Splits a group's rows evenly into at most `parts()` tasks and hands each caller its rows back. */
  private dispatch(g: Group): void {
    const dim = g.target.dimension;
    if (g.waiting.length === 1 && g.rows === 1) {
      const only = g.waiting[0]!;
      this.runPart(g.target, only.queries, g.k, g.options).then(only.resolve, only.reject);
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
    const runs = buffers.map((b) => this.runPart(g.target, b, g.k, g.options));
    Promise.all(runs).then(
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
