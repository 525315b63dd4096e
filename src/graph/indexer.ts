/**
 * Background indexing policy (main thread). One job at a time goes to the builder thread:
 *   1. seal  — a frozen segment (full, or frozen here after the collection was idle for
 *              `sealIdleMs` with at least `sealMinRecords` records) gets its HNSW graph;
 *   2. merge — compaction: when a collection has more than `maxSegments` sealed segments, or
 *              more than one and it has been idle, or one sealed segment is mostly tombstones
 *              (`compactDeadRatio`), their live records are copied into one new segment whose
 *              graph is built from scratch; it replaces them in one step.
 * Writes and queries never wait for any of this: a frozen segment is scanned exactly until its
 * graph is installed, and a merge's sources stay searchable until the merged segment replaces them.
 */
import { EventEmitter } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import type { CollectionStore } from '../vector-index/collection.js';
import { CHUNK_SLOTS } from '../vector-index/layout.js';
import { segmentGraph, type Segment } from '../vector-index/segment.js';
import type { VectorIndex } from '../vector-index/vector-index.js';
import type { BuildResult } from './build-job.js';
import type { GraphBuilder } from './builder.js';

export interface IndexerOptions {
  index: VectorIndex;
  builder: GraphBuilder;
  /** Folder holding one sub-folder of graph files per collection. */
  dir: string;
  sealIdleMs: number;
  sealMinRecords: number;
  maxSegments: number;
  compactDeadRatio: number;
  buildThreads: number;
}

export interface IndexerEvents {
  built: [{ collection: string; kind: 'seal' | 'merge'; segments: number; result: BuildResult }];
  error: [Error];
}

export interface IndexingStatus {
  /** True while a job runs or is due for this collection. */
  indexing: boolean;
  segments: { serial: number; phase: Segment['phase']; records: number; live: number }[];
}

export class Indexer extends EventEmitter<IndexerEvents> {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;
  private working: string | null = null;
  private closed = false;
  /** Per collection incarnation (uid): when its last job failed, its next one waits (others go on). */
  private readonly backoffUntil = new Map<string, number>();
  /** The segment file a running job writes (uid, serial): snapshot garbage collection must spare it. */
  private writing: { uid: string; serial: number } | null = null;
  private waiters: (() => void)[] = [];

  constructor(private readonly o: IndexerOptions) {
    super();
  }

  /** Folder of a collection incarnation's graph files. */
  dirOf(store: CollectionStore): string {
    return join(this.o.dir, store.uid);
  }

  start(intervalMs = 200): void {
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
  }

  /** Looks for work now (a segment was frozen). */
  kick(): void {
    if (this.closed || this.running) return;
    const job = this.nextJob();
    if (!job) {
      for (const w of this.waiters.splice(0)) w();
      return;
    }
    this.working = job.store.name;
    const uid = job.store.uid;
    // The builder thread reads the segments' chunks like a query task does: memory retired while
    // it runs (a dropped collection, a merge's sources) is freed only once the job is over. (A
    // build that never ended would hold every retirement back; usearch's insert always returns.)
    const reclaimer = this.o.index.reclaimer;
    const epoch = reclaimer.enter();
    this.running = job.run().then(
      () => {
        this.backoffUntil.delete(uid);
      },
      (err: unknown) => {
        if (this.closed) return; // the builder was stopped under a running job
        // A failed build (disk full, arena full) is retried, but not in a tight loop, and
        // other collections' jobs go on meanwhile.
        this.backoffUntil.set(uid, performance.now() + 5000);
        this.emit('error', new Error(`building an HNSW graph failed (retried in 5 s): ${errorMessage(err)}`, { cause: err }));
      },
    ).finally(() => {
      this.running = null;
      this.working = null;
      this.writing = null;
      if (!this.closed) setImmediate(() => this.kick());
      try {
        reclaimer.exit(epoch);
      } catch (err) {
        // A retirement that ran here failed; the job itself is not to blame (no backoff).
        this.emit('error', new Error(`freeing retired segments failed: ${errorMessage(err)}`, { cause: err }));
      }
    });
  }

  /** Resolves once nothing is left to seal or merge (tests and benchmarks wait on this). */
  settled(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.kick();
    });
  }

  /** The (uid, serial) whose graph file a running job is writing, if any. */
  get inProgress(): { uid: string; serial: number } | null {
    return this.writing;
  }

  status(store: CollectionStore): IndexingStatus {
    return {
      indexing: this.working === store.name || this.jobFor(store, true) !== null,
      segments: store.list().map((s) => ({ serial: s.serial, phase: s.phase, records: s.count, live: s.live })),
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of this.waiters.splice(0)) w();
  }

  private nextJob(): { store: CollectionStore; run: () => Promise<void> } | null {
    const now = performance.now();
    for (const store of this.o.index.list()) {
      if ((this.backoffUntil.get(store.uid) ?? 0) > now) continue;
      const job = this.jobFor(store, false);
      if (job) return { store, run: job };
    }
    return null;
  }

  /** The next job for a collection, or null. `dryRun` only tells whether there is one. */
  private jobFor(store: CollectionStore, dryRun: boolean): (() => Promise<void>) | null {
    const segments = store.list();
    const frozen = segments.find((s) => s.phase === 'frozen');
    if (frozen) return () => this.seal(store, frozen);
    const idle = performance.now() - store.lastWriteAt >= this.o.sealIdleMs;
    const g = store.growing;
    if (g && idle && g.live >= this.o.sealMinRecords) {
      if (dryRun) return () => Promise.resolve();
      const seg = store.freezeGrowing()!;
      return () => this.seal(store, seg);
    }
    const sealed = segments.filter((s) => s.phase === 'sealed');
    const mostlyDead = sealed.find((s) => s.count > 0 && 1 - s.live / s.count >= this.o.compactDeadRatio);
    if (sealed.length > this.o.maxSegments) {
      // Merge the smallest ones first: the cost is the records copied and re-inserted.
      const smallest = [...sealed].sort((a, b) => a.live - b.live).slice(0, sealed.length - this.o.maxSegments + 1);
      return () => this.merge(store, smallest);
    }
    if (sealed.length > 1 && idle) return () => this.merge(store, sealed);
    if (mostlyDead) return () => this.merge(store, [mostlyDead]);
    return null;
  }

  private async seal(store: CollectionStore, seg: Segment): Promise<void> {
    const slots = seg.liveSlots();
    if (slots.length === 0) {
      // Everything in it was deleted or overwritten while it waited: no graph, just drop it.
      store.replace([seg], null);
      return;
    }
    const dir = this.dirOf(store);
    await mkdir(dir, { recursive: true });
    const path = join(dir, `${seg.serial}.usearch`);
    this.writing = { uid: store.uid, serial: seg.serial };
    const vectorOffsets = Float64Array.from(slots, (s) => seg.vectorOffset(s));
    const result = await this.o.builder.build({
      dimension: store.dimension,
      metric: store.metric,
      settings: store.settings,
      vectorOffsets,
      keys: Float64Array.from(slots),
      path,
      threads: this.o.buildThreads,
    });
    if (!store.seal(seg, segmentGraph(path, result.nodes, result.quantizer))) {
      await rm(path, { force: true });
      return;
    }
    this.emit('built', { collection: store.name, kind: 'seal', segments: 1, result });
  }

  private async merge(store: CollectionStore, sources: Segment[]): Promise<void> {
    const live = sources.reduce((n, s) => n + s.live, 0);
    if (live === 0) {
      store.replace(sources, null);
      return;
    }
    // Few dead slots: the merged segment takes over the sources' chunks and only a new graph is
    // built (no vector is copied, the arena does not grow). Otherwise (compaction) the live
    // records are copied into fresh chunks and the dead ones' memory is given back.
    // Counted as the merged segment will count them: every source's chunks but the last one's tail.
    const spanSlots = sources.reduce((n, s, i) => n + (i === sources.length - 1 ? s.count : s.chunks.length * CHUNK_SLOTS), 0);
    const inPlace = sources.length > 1 && 1 - live / spanSlots < this.o.compactDeadRatio;
    const { merged, moves } = inPlace ? store.spanning(sources) : store.compacting(sources);
    try {
      const dir = this.dirOf(store);
      await mkdir(dir, { recursive: true });
      const path = join(dir, `${merged.serial}.usearch`);
      this.writing = { uid: store.uid, serial: merged.serial };
      const result = await this.o.builder.build({
        dimension: store.dimension,
        metric: store.metric,
        settings: store.settings,
        vectorOffsets: moves.vectorOffsets(),
        keys: moves.keys(),
        ...(inPlace ? {} : { copy: { invNormOffsets: moves.invNormOffsets(), chunks: merged.chunks.slice(), layout: store.layout } }),
        path,
        threads: this.o.buildThreads,
      });
      merged.graph = segmentGraph(path, result.nodes, result.quantizer);
      // replace() takes ownership of `merged` from here on, installed or released.
      if (!store.replace(sources, merged, moves)) {
        await rm(path, { force: true });
        return;
      }
      this.emit('built', { collection: store.name, kind: 'merge', segments: sources.length, result });
    } catch (err) {
      if (!merged.graph || !store.list().includes(merged)) store.releaseUnused(merged);
      throw err;
    }
  }
}
