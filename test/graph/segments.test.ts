/**
 * Segments end to end on the real builder thread and real usearch graphs: recall against
 * brute force across segment boundaries (growing + frozen + sealed at once), tombstones and
 * overwrites inside sealed segments, exact mode, per-query ef, compaction of a mostly-dead
 * segment, idle sealing and merging, and the same answers through the worker pool.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Indexer } from '../../src/graph/indexer.js';
import { GraphViews } from '../../src/graph/views.js';
import { createWasmKernels } from '../../src/kernels/index.js';
import type { Metric } from '../../src/persist/ops.js';
import { QueryPool, scratchSlotsFor } from '../../src/pool/pool.js';
import type { CollectionStore } from '../../src/vector-index/collection.js';
import { Scanner, type SearchOptions } from '../../src/vector-index/scan.js';
import type { StorageKind } from '../../src/vector-index/settings.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { randomVectors, removeDir, tempDir } from '../helpers/hotvec.js';
import { bruteForce, sameNeighbours } from '../helpers/reference.js';

const MiB = 1024 * 1024;
const DIM = 24;

interface Rig {
  index: VectorIndex;
  indexer: Indexer;
  builder: GraphBuilder;
  scanner: Scanner;
}

let dir: string;
const rigs: Rig[] = [];

before(async () => {
  dir = await tempDir();
});
after(async () => {
  for (const r of rigs) {
    await r.indexer.close();
    await r.builder.close();
  }
  await removeDir(dir);
});

function rig(policy: { segmentRecords: number; sealIdleMs: number; sealMinRecords?: number; maxSegments?: number }): Rig {
  const index = new VectorIndex({ maxBytes: 512 * MiB, maxDimension: 64, scratchSlots: scratchSlotsFor(2) + 1, segmentRecords: policy.segmentRecords });
  const builder = new GraphBuilder(index.arena.memory);
  const indexer = new Indexer({
    index,
    builder,
    dir: `${dir}/${rigs.length}`,
    sealIdleMs: policy.sealIdleMs,
    sealMinRecords: policy.sealMinRecords ?? 100,
    maxSegments: policy.maxSegments ?? 8,
    compactDeadRatio: 0.3,
    buildThreads: 1,
  });
  index.onFrozen = () => setImmediate(() => indexer.kick());
  // The last scratch slot is this thread's (the pool's workers claim from the first).
  const { base, queryOffset, distancesOffset, stride, slots } = index.arena.scratch;
  const mine = base + (slots - 1) * stride;
  const scanner = new Scanner(index.arena.memory, createWasmKernels(index.arena.memory), { queryOffset: mine + queryOffset, distancesOffset: mine + distancesOffset }, new GraphViews());
  const r = { index, indexer, builder, scanner };
  rigs.push(r);
  return r;
}

function search(r: Rig, store: CollectionStore, q: number[], k: number, options: SearchOptions = {}): { ids: string[]; distances: number[] } {
  const view = store.searchView();
  const res = r.scanner.search(view.target, new Float32Array(q), k, options);
  const ids: string[] = [];
  const distances: number[] = [];
  for (let i = 0; i < k && res.refs[i]! >= 0; i++) {
    const hit = store.resolve(view, res.refs[i]!);
    if (!hit) continue;
    ids.push(hit.id);
    distances.push(res.distances[i]!);
  }
  return { ids, distances };
}

/** Mean recall@k of the engine against brute force over the model, and a check that no deleted id comes back. */
function recall(r: Rig, store: CollectionStore, metric: Metric, model: Map<string, number[]>, queries: number[][], k: number, options: SearchOptions = {}): number {
  let hits = 0;
  for (const q of queries) {
    const got = search(r, store, q, k, options);
    for (const id of got.ids) assert.ok(model.has(id), `${id} is deleted or overwritten but came back`);
    const want = new Set(bruteForce(metric, model, q, k).map((w) => w.id));
    hits += got.ids.filter((id) => want.has(id)).length;
  }
  return hits / (queries.length * k);
}

function upsert(index: VectorIndex, name: string, model: Map<string, number[]>, ids: string[], vecs: number[][]): void {
  index.apply({ t: 'upsert', seq: 0, collection: name, ids, embeddings: new Float32Array(vecs.flat()) });
  ids.forEach((id, i) => model.set(id, vecs[i]!));
}

/**
 * Coordinates x × spread + shift; with `outliers`, every 500th vector × 10⁴. l2 i8 graphs must
 * quantise data far from the origin (a shift of 1000 leaves a quantiser without a centre one
 * step for the whole spread of each coordinate; usearch's own cast keeps only directions) and
 * must not let a few far-off vectors coarsen everyone's steps. Cosine i8 graphs (usearch's cast)
 * see vectors of very different lengths.
 */
const place = (vecs: number[][], at: { spread: number; shift: number; outliers?: boolean }): number[][] =>
  vecs.map((v, i) => v.map((x) => Math.fround((x * at.spread + at.shift) * (at.outliers && i % 500 === 7 ? 1e4 : 1))));

const cases: { metric: Metric; storage: StorageKind; spread: number; shift: number; outliers?: boolean; name?: string }[] = [
  { metric: 'l2', storage: 'f32', spread: 1, shift: 0 },
  { metric: 'cosine', storage: 'f32', spread: 1, shift: 0 },
  { metric: 'ip', storage: 'f32', spread: 1, shift: 0 },
  { metric: 'l2', storage: 'i8', spread: 1, shift: 1000, name: 'data around 1000' },
  { metric: 'l2', storage: 'i8', spread: 1, shift: 0, outliers: true, name: 'a few vectors 10⁴ times longer' },
  { metric: 'cosine', storage: 'i8', spread: 40, shift: 0, outliers: true, name: 'a few vectors 10⁴ times longer' },
];
for (const { metric, storage, spread, shift, outliers, name } of cases) {
  test(`${metric} ${storage}${name ? ` (${name})` : ''}: recall across sealed, frozen and growing segments; tombstones and overwrites in sealed ones`, async () => {
    const r = rig({ segmentRecords: 1024, sealIdleMs: 3_600_000 });
    r.index.apply({ t: 'create', seq: 0, collection: 'c', dimension: DIM, metric, index: { storage } });
    const store = r.index.require('c');
    const model = new Map<string, number[]>();
    const n = 3 * 1024 + 500;
    const vecs = place(randomVectors(n, DIM, 11), { spread, shift, ...(outliers ? { outliers } : {}) });
    upsert(r.index, 'c', model, vecs.map((_, i) => `v${i}`), vecs);
    const queries = place(randomVectors(40, DIM, 12), { spread, shift });
    // Three full segments are frozen (scanned exactly until sealed), the fourth grows.
    assert.deepEqual(store.list().map((s) => s.phase), ['frozen', 'frozen', 'frozen', 'growing']);
    assert.equal(recall(r, store, metric, model, queries, 10), 1, 'exact while nothing is sealed');

    await r.indexer.settled();
    assert.deepEqual(store.list().map((s) => s.phase), ['sealed', 'sealed', 'sealed', 'growing']);
    for (const s of store.list().slice(0, 3)) assert.equal(s.graph!.quantizer !== undefined, storage === 'i8' && metric === 'l2', `segment ${s.serial} graph quantiser`);
    const sealedRecall = recall(r, store, metric, model, queries, 10);
    assert.ok(sealedRecall >= 0.95, `recall@10 across 3 graphs + a growing segment: ${sealedRecall}`);
    if (metric === 'cosine') {
      // Cosine ignores lengths: a query 100 times longer or shorter finds the same neighbours.
      for (const q of queries.slice(0, 5)) {
        const ids = search(r, store, q, 10).ids;
        for (const f of [100, 0.01]) assert.deepEqual(search(r, store, q.map((x) => x * f), 10).ids, ids, `query × ${f}`);
      }
    }

    // Delete 40% of the first segment and overwrite a tenth of everything with new vectors.
    const del = [...model.keys()].filter((_, i) => i < 1024 && i % 5 < 2);
    r.index.apply({ t: 'delete', seq: 0, collection: 'c', ids: del });
    for (const id of del) model.delete(id);
    const over = [...model.keys()].filter((_, i) => i % 10 === 3);
    upsert(r.index, 'c', model, over, place(randomVectors(over.length, DIM, 13), { spread, shift }));
    assert.equal(store.count, model.size);
    const afterWrites = recall(r, store, metric, model, queries, 10);
    assert.ok(afterWrites >= 0.95, `recall@10 with tombstones in sealed segments: ${afterWrites}`);
    assert.equal(recall(r, store, metric, model, queries, 10, { exact: true }), 1, 'exact: true scans every segment');
    for (const q of queries.slice(0, 5)) {
      assert.equal(sameNeighbours(search(r, store, q, 10, { exact: true }), bruteForce(metric, model, q, 10)), null);
    }
    // A graph query returns exact distances (re-ranked from the float32 vectors).
    for (const q of queries.slice(0, 5)) {
      const got = search(r, store, q, 5);
      for (let i = 0; i < got.ids.length; i++) {
        const want = bruteForce(metric, new Map([[got.ids[i]!, model.get(got.ids[i]!)!]]), q, 1)[0]!.d;
        assert.ok(Math.abs(got.distances[i]! - want) <= 1e-4 * Math.max(1, Math.abs(want)), `distance of ${got.ids[i]}: ${got.distances[i]} vs ${want}`);
      }
    }

    // The first segment is now ≥30% dead: compaction rewrites it without its tombstones.
    const firstSerial = store.list()[0]!.serial;
    await r.indexer.settled();
    assert.ok(!store.list().some((s) => s.serial === firstSerial), 'the mostly-dead segment was compacted away');
    for (const s of store.list()) if (s.phase === 'sealed') assert.ok(1 - s.live / s.count < 0.3, `segment ${s.serial} still ${s.live}/${s.count} live`);
    const afterCompaction = recall(r, store, metric, model, queries, 10);
    assert.ok(afterCompaction >= 0.95, `recall@10 after compaction: ${afterCompaction}`);
    assert.equal(store.count, model.size);
    for (const [id, v] of [...model].slice(0, 50)) assert.deepEqual([...store.get([id])[0]!.embedding], v);
  });
}

test('an idle collection is sealed, then its segments are merged into one graph', async () => {
  const r = rig({ segmentRecords: 1024, sealIdleMs: 50, sealMinRecords: 100 });
  r.index.apply({ t: 'create', seq: 0, collection: 'm', dimension: DIM, metric: 'l2' });
  const store = r.index.require('m');
  const model = new Map<string, number[]>();
  const vecs = randomVectors(2500, DIM, 21);
  upsert(r.index, 'm', model, vecs.map((_, i) => `m${i}`), vecs);
  const queries = randomVectors(30, DIM, 22);
  await new Promise((res) => setTimeout(res, 80));
  await r.indexer.settled();
  assert.equal(store.list().length, 1, `segments: ${JSON.stringify(r.indexer.status(store))}`);
  const [only] = store.list();
  assert.equal(only!.phase, 'sealed');
  assert.equal(only!.live, 2500);
  assert.equal(r.indexer.status(store).indexing, false);
  const got = recall(r, store, 'l2', model, queries, 10);
  assert.ok(got >= 0.95, `recall@10 after the merge: ${got}`);
  // A larger ef never does worse on the same graph here, and ef 1 still returns k results.
  const wide = recall(r, store, 'l2', model, queries, 10, { ef: 400 });
  assert.ok(wide >= got - 0.01, `ef 400 recall ${wide} vs default ${got}`);
  for (const q of queries.slice(0, 3)) assert.equal(search(r, store, q, 10, { ef: 1 }).ids.length, 10);
  // Retired segments were released once no reader held them.
  assert.equal(r.index.reclaimer.pending, 0);
});

test('more live graph candidates than one gather call holds are all re-ranked exactly', async () => {
  // k 600 asks the graph for 600 candidates: the re-rank gathers 512 (GATHER_ROWS), then 88.
  const r = rig({ segmentRecords: 1024, sealIdleMs: 50, sealMinRecords: 100 });
  r.index.apply({ t: 'create', seq: 0, collection: 'g', dimension: DIM, metric: 'l2' });
  const store = r.index.require('g');
  const model = new Map<string, number[]>();
  const vecs = randomVectors(2500, DIM, 31);
  upsert(r.index, 'g', model, vecs.map((_, i) => `g${i}`), vecs);
  await new Promise((res) => setTimeout(res, 80));
  await r.indexer.settled();
  assert.deepEqual(store.list().map((s) => s.phase), ['sealed']);
  const k = 600;
  for (const q of randomVectors(3, DIM, 32)) {
    const got = search(r, store, q, k, { ef: 700 });
    assert.equal(got.ids.length, k);
    assert.equal(new Set(got.ids).size, k, 'no id twice');
    for (let i = 0; i < k; i++) {
      const v = model.get(got.ids[i]!)!;
      const want = v.reduce((sum, x, j) => sum + (x - q[j]!) ** 2, 0);
      assert.ok(Math.abs(got.distances[i]! - want) <= 1e-4 * Math.max(1, want), `hit ${i} (${got.ids[i]}): ${got.distances[i]} against ${want}`);
      if (i > 0) assert.ok(got.distances[i]! >= got.distances[i - 1]!, `ascending at ${i}`);
    }
    const truth = new Set(bruteForce('l2', model, q, k).map((w) => w.id));
    const recalled = got.ids.filter((id) => truth.has(id)).length / k;
    assert.ok(recalled >= 0.95, `recall@${k}: ${recalled}`);
  }
});

test('workers search sealed segments through memory-mapped graphs, and batches split across them', async () => {
  const r = rig({ segmentRecords: 1024, sealIdleMs: 3_600_000 });
  const pool = new QueryPool({ memory: r.index.arena.memory, scratch: r.index.arena.scratch, workers: 2, maxQueue: 100 });
  try {
    // An i8 graph's quantiser travels to the workers with the segment (data far from the origin: without it, other answers).
    for (const [name, storage] of [['w', 'f32'], ['w8', 'i8']] as const) {
      r.index.apply({ t: 'create', seq: 0, collection: name, dimension: DIM, metric: 'l2', index: { storage } });
      const store = r.index.require(name);
      const model = new Map<string, number[]>();
      const at = { spread: 1, shift: storage === 'i8' ? 300 : 0 };
      const vecs = place(randomVectors(2600, DIM, 31), at);
      upsert(r.index, name, model, vecs.map((_, i) => `w${i}`), vecs);
      await r.indexer.settled();
      assert.deepEqual(store.list().map((s) => s.phase), ['sealed', 'sealed', 'growing']);
      const queries = place(randomVectors(9, DIM, 32), at);
      const view = store.searchView();
      const answer = await pool.search(view.target, new Float32Array(queries.flat()), 10);
      let hits = 0;
      for (let q = 0; q < queries.length; q++) {
        const inThread = search(r, store, queries[q]!, 10);
        const ids: string[] = [];
        for (let i = q * 10; i < q * 10 + 10; i++) ids.push(store.resolve(view, answer.refs[i]!)!.id);
        assert.deepEqual(ids, inThread.ids, `${storage} query ${q}: worker and in-thread answers differ`);
        hits += ids.filter((id) => bruteForce('l2', model, queries[q]!, 10).some((w) => w.id === id)).length;
      }
      assert.ok(hits >= 0.9 * 10 * queries.length, `${storage}: recall@10 of the workers' answers ${hits / (10 * queries.length)}`);
    }
  } finally {
    await pool.close();
  }
});

test('a sealed segment whose records were all deleted is searched without error, then removed', async () => {
  const r = rig({ segmentRecords: 1024, sealIdleMs: 3_600_000 });
  r.index.apply({ t: 'create', seq: 0, collection: 'd', dimension: DIM, metric: 'l2' });
  const store = r.index.require('d');
  const model = new Map<string, number[]>();
  const vecs = randomVectors(1100, DIM, 41);
  upsert(r.index, 'd', model, vecs.map((_, i) => `d${i}`), vecs);
  await r.indexer.settled();
  assert.deepEqual(store.list().map((s) => s.phase), ['sealed', 'growing']);
  const dead = [...model.keys()].slice(0, 1024);
  r.index.apply({ t: 'delete', seq: 0, collection: 'd', ids: dead });
  for (const id of dead) model.delete(id);
  const queries = randomVectors(5, DIM, 42);
  assert.equal(recall(r, store, 'l2', model, queries, 10), 1, 'only the growing segment answers');
  await r.indexer.settled();
  assert.deepEqual(store.list().map((s) => s.phase), ['growing'], 'the all-dead segment is gone');
  assert.equal(recall(r, store, 'l2', model, queries, 10), 1);
});

test('memory retired during a build is freed only once the build is over', async () => {
  const r = rig({ segmentRecords: 1024, sealIdleMs: 3_600_000 });
  r.index.apply({ t: 'create', seq: 0, collection: 'd', dimension: DIM, metric: 'l2' });
  const vecs = randomVectors(1024, DIM, 21);
  upsert(r.index, 'd', new Map(), vecs.map((_, i) => `v${i}`), vecs);
  assert.deepEqual(r.index.require('d').list().map((s) => s.phase), ['frozen']);
  r.indexer.kick(); // the seal of the frozen segment starts now (its build is under way until settled)
  const usedBefore = r.index.arena.usedBytes;
  r.index.apply({ t: 'drop', seq: 0, collection: 'd' });
  assert.ok(r.index.reclaimer.pending > 0, "the dropped collection's memory waits for the build");
  assert.equal(r.index.arena.usedBytes, usedBefore, 'no chunk is freed under the builder');
  await r.indexer.settled();
  assert.equal(r.index.reclaimer.pending, 0);
  assert.ok(r.index.arena.usedBytes < usedBefore, 'freed once the build is over');
});
