/**
 * Worker reads against the main thread's writes, over a fixed schedule: two query workers scan
 * a collection while this thread upserts, overwrites, deletes, freezes the growing segment,
 * merges segments by copying (compaction) and over their chunks, and removes all-dead segments
 * — each step drawn from a seeded generator, so every run plays the same schedule; a merge is
 * started and installed steps apart, with writes in between, as while its graph builds. The threads'
 * interleaving varies from run to run; the checks hold for every interleaving:
 *
 * - no block a query in flight can reach (its view's chunks, segment descriptors, directory
 *   entry) is given back to the arena before that query's answer was taken (a spy on
 *   `Arena.release`);
 * - every hit is a version of its id that was live at some moment between the dispatch and the
 *   answer, at that version's exact distance (a worker that read reused memory fails this);
 * - every record live for the whole of that time and nearer than the k-th hit is among the hits.
 *
 * Twice: with the pool's tasks, which name the view the main thread took at dispatch; and as
 * the query port reads (catalog-query-worker.ts), where the worker loads the collection's
 * current view from the shared catalog itself, at a moment the main thread does not know (the
 * first check then has no view to hold against, the other two stand; a dispatch follows the
 * microtasks of the step before it, as a request follows the acknowledgement of a write).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import { QueryPool, scratchSlotsFor } from '../../src/pool/pool.js';
import { CHUNK_SLOTS, SlotState } from '../../src/vector-index/layout.js';
import { REF_SEGMENT, type SearchView } from '../../src/vector-index/collection.js';
import type { Moves } from '../../src/vector-index/moves.js';
import type { Segment } from '../../src/vector-index/segment.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { rng } from '../helpers/hotvec.js';
import { distance } from '../helpers/reference.js';
import { until } from '../helpers/wait.js';
import type { CatalogWorkerInit } from './catalog-query-worker.js';

const MiB = 1024 * 1024;
const DIM = 32;
const K = 10;
const IDS = 3000;
const STEPS = 600;

/** One version of a record: its vector and the steps that wrote and ended it. */
interface Version {
  vec: Float32Array;
  from: number;
  to: number;
}

interface InFlight {
  dispatched: number;
  writes: number;
  blocks: Set<number>;
}

type Mode = 'pool' | 'catalog';
/** Raw hits of one task: per query, ids and distances. */
type Rows = { id: string; d: number }[][];

/** Two threads that answer as query-port workers do, over `index`'s catalog. */
function catalogWorkers(index: VectorIndex): { search: (queries: Float32Array[]) => Promise<Rows>; close: () => Promise<void> } {
  let next = 0;
  const waiting = new Map<number, { resolve: (r: Rows) => void; reject: (e: Error) => void }>();
  const workers = [0, 1].map((slot) => {
    const init: CatalogWorkerInit = { memory: index.arena.memory, scratch: index.arena.scratch, slot, catalogOffset: index.catalog!.offset };
    const w = new Worker(new URL('./catalog-query-worker.js', import.meta.url), { workerData: init });
    w.on('message', (m: { id: number; result?: { ids: string[][]; distances: number[][] }; error?: string }) => {
      const p = waiting.get(m.id)!;
      waiting.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.result!.ids.map((ids, i) => ids.map((id, j) => ({ id, d: m.result!.distances[i]![j]! }))));
    });
    return w;
  });
  return {
    search: (queries) =>
      new Promise((resolve, reject) => {
        const id = next++;
        waiting.set(id, { resolve, reject });
        workers[id % 2]!.postMessage({ id, name: 'rw', body: { embeddings: queries.map((q) => [...q]), k: K, exact: true } });
      }),
    close: async () => {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/** Squared l2 in float64 (a fast first look; the reference `distance` decides). */
function l2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}

/** Every block a view lets a worker reach. */
function blocksOf(view: SearchView): Set<number> {
  const blocks = new Set<number>([view.target.directory.offset]);
  for (const seg of view.segments) {
    blocks.add(seg.descriptorOffset);
    for (const c of seg.chunks) blocks.add(c);
  }
  return blocks;
}

async function scenario(t: TestContext, mode: Mode): Promise<void> {
  const index = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: DIM, scratchSlots: scratchSlotsFor(2), segmentRecords: CHUNK_SLOTS, catalog: mode === 'catalog' });
  const pool = mode === 'pool' ? new QueryPool({ memory: index.arena.memory, scratch: index.arena.scratch, workers: 2, maxQueue: 10_000 }) : undefined;
  const portWorkers = mode === 'catalog' ? catalogWorkers(index) : undefined;
  t.after(async () => {
    await pool?.close();
    await portWorkers?.close();
  });
  const random = rng(20261125);
  const int = (n: number): number => Math.floor(random() * n);
  const vector = (): Float32Array => Float32Array.from({ length: DIM }, () => random() * 2 - 1);
  index.apply({ t: 'create', seq: 1, collection: 'rw', dimension: DIM, metric: 'l2' });
  const store = index.require('rw');
  const history = new Map<string, Version[]>();
  let seq = 2;
  let step = 0;

  const inFlight = new Set<InFlight>();
  const violations: string[] = [];
  const release = index.arena.release.bind(index.arena);
  index.arena.release = (offset: number, bytes: number): void => {
    for (const q of inFlight) {
      for (const b of q.blocks) if (b >= offset && b < offset + bytes) violations.push(`step ${step}: block ${b} freed while a query dispatched at step ${q.dispatched} could read it`);
    }
    release(offset, bytes);
  };

  const live = (): string[] => [...history].filter(([, vs]) => vs.at(-1)!.to === Infinity).map(([id]) => id);
  const end = (id: string): void => {
    const last = history.get(id)?.at(-1);
    if (last && last.to === Infinity) last.to = step;
  };
  const upsert = (): void => {
    const n = 1 + int(300);
    const ids = Array.from({ length: n }, () => `r${int(IDS)}`).filter((id, i, all) => all.indexOf(id) === i);
    const vecs = ids.map(() => vector());
    index.apply({ t: 'upsert', seq: seq++, collection: 'rw', ids, embeddings: Float32Array.from(vecs.flatMap((v) => [...v])) });
    ids.forEach((id, i) => {
      end(id);
      history.set(id, [...(history.get(id) ?? []), { vec: vecs[i]!, from: step, to: Infinity }]);
    });
  };
  const remove = (): void => {
    const ids = live().filter(() => random() < 0.05);
    index.apply({ t: 'delete', seq: seq++, collection: 'rw', ids });
    ids.forEach(end);
  };
  /**
   * A merge under way, as the indexer runs one: started (its moves listed), then — while its
   * graph would build, with writes in between — finished (vectors copied for a compaction) and
   * installed. Its sources take no other merge meanwhile.
   */
  let pending: { sources: Segment[]; merged: Segment; moves: Moves; copy: boolean } | null = null;
  let changedDuringMerge = 0;
  const sealedSources = (): Segment[] => {
    const candidates = store.list().filter((s) => s.phase !== 'growing');
    const picked = candidates.filter(() => random() < 0.5).slice(0, 3);
    return picked.length > 0 ? picked : candidates.slice(0, 1);
  };
  /** A compaction (`copy`: the live records go to fresh chunks) or a merge over the sources' chunks. */
  const startMerge = (copy: boolean): void => {
    if (pending) return;
    const sources = sealedSources();
    if (copy ? sources.every((s) => s.live === 0) : sources.length < 2) return;
    for (const s of sources) s.phase = 'sealed';
    pending = { sources, copy, ...(copy ? store.compacting(sources) : store.spanning(sources)) };
  };
  const finishMerge = (): void => {
    if (!pending) return;
    const { sources, merged, moves, copy } = pending;
    pending = null;
    if (copy) {
      // The graph builder's copy, done here.
      const f32 = new Float32Array(index.arena.buffer);
      const state = new Uint8Array(index.arena.buffer);
      for (let j = 0; j < moves.length; j++) {
        f32.set(moves.segment(j).vector(moves.from[j]!), merged.vectorOffset(j) / 4);
        state[merged.stateOffset(j)] = SlotState.LIVE;
      }
    }
    const live = merged.live;
    assert.ok(store.replace(sources, merged, moves));
    changedDuringMerge += live - merged.live;
  };
  const dropDead = (): void => {
    const dead = store.list().find((s) => s.phase !== 'growing' && s.live === 0 && !pending?.sources.includes(s));
    if (dead) assert.ok(store.replace([dead], null));
  };

  let answered = 0;
  /** Writes made so far, and the answers that had some made while they were in flight. */
  let writes = 0;
  let writtenUnder = 0;
  /** Merges, compactions and removals that retired segments a query in flight could read. */
  let retiredUnder = 0;
  const checks: Promise<void>[] = [];
  const dispatch = (): void => {
    const queries = Array.from({ length: 16 }, () => vector());
    let answer: Promise<Rows>;
    let q: InFlight;
    /** Ends the main thread's hold on the view (pool tasks), after the query left `inFlight`. */
    let unhold = (): void => {};
    if (pool) {
      const epoch = index.reclaimer.enter();
      const view = store.searchView();
      q = { dispatched: step, writes, blocks: blocksOf(view) };
      const flat = Float32Array.from(queries.flatMap((v) => [...v]));
      answer = pool.search(view.target, flat, K, { exact: true }).then((raw) => {
        // The raw hits, read before the hold ends (as the query service resolves ids).
        const rows = queries.map((_, i) => {
          const hits: { id: string; d: number }[] = [];
          for (let j = i * K; j < (i + 1) * K && raw.refs[j]! >= 0; j++) {
            const ref = raw.refs[j]!;
            const seg = view.segments[Math.floor(ref / REF_SEGMENT)]!;
            hits.push({ id: seg.id(ref % REF_SEGMENT)!, d: raw.distances[j]! });
          }
          return hits;
        });
        unhold = () => index.reclaimer.exit(epoch);
        return rows;
      });
    } else {
      // The worker picks the view; which blocks it reaches is its own business (its pin holds them).
      q = { dispatched: step, writes, blocks: new Set() };
      answer = portWorkers!.search(queries);
    }
    inFlight.add(q);
    checks.push(
      answer.then((rows) => {
        inFlight.delete(q);
        unhold();
        const from = q.dispatched;
        const to = step + 0.5;
        if (writes > q.writes) writtenUnder++;
        rows.forEach((hits, i) => {
          const query = queries[i]!;
          for (const h of hits) {
            const ok = history.get(h.id)?.some((v) => v.from < to && v.to > from && Math.abs(distance('l2', query, v.vec) - h.d) <= 1e-4 * Math.max(1, h.d));
            if (!ok) violations.push(`query ${i} of step ${from}: ${h.id} at ${h.d} is no version of it live between steps ${from} and ${to}`);
          }
          // The query port's workers leave out a hit whose record died between their search and their
          // reading of its id (as the main thread's resolve does): fewer than K then says nothing of
          // what lies beyond the last hit, and only what is nearer than it is checked.
          const kth = hits.length === K || (mode === 'catalog' && hits.length > 0) ? hits.at(-1)!.d : Infinity;
          const got = new Set(hits.map((h) => h.id));
          for (const [id, vs] of history) {
            // An id's versions do not overlap: only the one written last before the dispatch can be live throughout.
            let at = vs.length - 1;
            while (at >= 0 && vs[at]!.from >= from) at--;
            const v = vs[at];
            if (v && v.to > to && !got.has(id) && l2(query, v.vec) < kth * (1 - 1e-3) && distance('l2', query, v.vec) < kth * (1 - 1e-4)) {
              violations.push(`query ${i} of step ${from}: ${id}, live throughout, is nearer than the k-th hit and missing`);
            }
          }
        });
        answered++;
      }),
    );
  };

  for (step = 1; step <= STEPS; step++) {
    const r = random();
    const before = store.list();
    if ((r >= 0.3 && r < 0.42 && step >= 10) || step % 50 === 0) {
      // As a request after an acknowledgement: the step's publication (a microtask) has run.
      if (mode === 'catalog') await Promise.resolve();
      dispatch();
      // One turn of the loop: the pool hands the task to a worker, which then reads while the
      // next steps write.
      await new Promise((resolve) => setImmediate(resolve));
    } else if (r >= 0.92) {
      await new Promise((resolve) => setImmediate(resolve)); // answers come back, retirements run
    } else {
      writes++;
      if (step < 10 || r < 0.3) upsert();
      else if (r < 0.52) remove();
      else if (r < 0.6) store.freezeGrowing();
      else if (r < 0.68) startMerge(true);
      else if (r < 0.76) startMerge(false);
      else if (r < 0.86) finishMerge();
      else dropDead();
      if (inFlight.size > 0 && before.some((seg) => !store.list().includes(seg))) retiredUnder++;
    }
  }
  finishMerge();
  await Promise.all(checks);
  await until(() => index.reclaimer.pending === 0, 10_000, 5);
  t.diagnostic(`${answered} tasks answered, ${writtenUnder} of them with writes made after the hand-off to a worker; ${retiredUnder} merges or removals with queries in flight; ${changedDuringMerge} records overwritten or deleted while their merge was under way; ${store.list().length} segments, ${store.count} records at the end`);
  assert.deepEqual(violations.slice(0, 10), []);
  assert.ok(writtenUnder > 10 && retiredUnder > 5, 'the schedule must put writes and merges under queries in flight');
  assert.ok(changedDuringMerge > 10, 'the schedule must change records while their merge is under way');
  assert.equal(index.reclaimer.pending, 0, 'every retirement ran once the readers were gone');
  assert.equal(store.count, live().length);
}

test('query workers read a collection while it is written, merged and compacted: nothing they hold is freed, every answer is exact for its window', (t) => scenario(t, 'pool'));

test('query-port workers, which load the current view from the shared catalog themselves, read it meanwhile: every answer is exact for its window', (t) => scenario(t, 'catalog'));
