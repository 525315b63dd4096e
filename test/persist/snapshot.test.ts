/**
 * Local snapshots, in process: a capture of sealed, frozen and growing segments with
 * tombstones restores into a fresh index with exactly the same records and the same search
 * answers; writes made after the capture are not in it; sealed segments come back sealed
 * (their graph file reused, not rebuilt), the last loose one growing and others frozen; files no snapshot
 * names are collected; a segment merged over its sources' chunks (dead holes included) comes
 * back the same; a damaged snapshot is reported, not trusted.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GraphBuilder } from '../../src/graph/builder.js';
import { Indexer } from '../../src/graph/indexer.js';
import { GraphViews } from '../../src/graph/views.js';
import { createWasmKernels } from '../../src/kernels/index.js';
import { Snapshots, type RestoreReport } from '../../src/persist/snapshot.js';
import type { CollectionStore } from '../../src/vector-index/collection.js';
import { Scanner } from '../../src/vector-index/scan.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { randomVectors, removeDir, tempDir } from '../helpers/hotvec.js';

const MiB = 1024 * 1024;
const DIM = 12;
let dir: string;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  dir = await tempDir();
});
after(async () => {
  for (const c of closers) await c();
  await removeDir(dir);
});

function newIndex(): VectorIndex {
  return new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 64, scratchSlots: 2, segmentRecords: 1024 });
}

/** Writes a capture (keeping the store's live files), then reads the snapshot back into a fresh index. */
async function writeAndRestore(snapshots: Snapshots, index: VectorIndex, store: CollectionStore, capture: ReturnType<Snapshots['capture']>): Promise<{ fresh: VectorIndex; report: RestoreReport }> {
  await snapshots.write(index, capture, () => new Map([[store.uid, { serials: new Set(store.list().map((s) => s.serial)), from: store.serialWatermark }]]));
  capture.release();
  const read = await snapshots.read();
  assert.ok(read && 'body' in read, JSON.stringify(read));
  const fresh = newIndex();
  const report = await snapshots.restore(fresh, read.body);
  return { fresh, report };
}

function state(store: CollectionStore, ids: string[]): Map<string, { v: number[]; m: unknown; d: unknown }> {
  return new Map(store.get(ids).map((r) => [r.id, { v: [...r.embedding], m: r.metadata, d: r.document }]));
}

function searchIds(index: VectorIndex, store: CollectionStore, q: number[], k: number, exact = true): string[] {
  const { base, queryOffset, distancesOffset } = index.arena.scratch;
  const scanner = new Scanner(index.arena.memory, createWasmKernels(index.arena.memory), { queryOffset: base + queryOffset, distancesOffset: base + distancesOffset }, new GraphViews());
  const view = store.searchView();
  const r = scanner.search(view.target, new Float32Array(q), k, { exact });
  return [...r.refs].filter((x) => x >= 0).map((x) => store.resolve(view, x)!.id);
}

test('capture → write → restore gives the same records, segments and answers; later writes are not in it', async () => {
  const index = newIndex();
  const builder = new GraphBuilder(index.arena.memory);
  const snapshots = new Snapshots(dir);
  const indexer = new Indexer({ index, builder, dir: snapshots.segmentsDir, sealIdleMs: 3_600_000, sealMinRecords: 10, maxSegments: 8, compactDeadRatio: 0.9, buildThreads: 1 });
  closers.push(() => indexer.close(), () => builder.close());
  index.onFrozen = () => setImmediate(() => indexer.kick());
  index.apply({ t: 'create', seq: 1, collection: 's', dimension: DIM, metric: 'cosine', index: { m: 8 } });
  const store = index.require('s');
  const vecs = randomVectors(2600, DIM, 3);
  const ids = vecs.map((_, i) => `r${i}`);
  index.apply({
    t: 'upsert',
    seq: 2,
    collection: 's',
    ids,
    embeddings: new Float32Array(vecs.flat()),
    metadatas: ids.map((_, i) => (i % 3 ? { i } : null)),
    documents: ids.map((_, i) => (i % 4 ? `doc ${i}` : null)),
  });
  await indexer.settled();
  // Now: two sealed segments and a growing one; then a frozen one appears, not yet sealed.
  index.apply({ t: 'delete', seq: 3, collection: 's', ids: ids.filter((_, i) => i % 9 === 0) });
  index.apply({ t: 'upsert', seq: 4, collection: 's', ids: ids.filter((_, i) => i % 7 === 1), embeddings: new Float32Array(randomVectors(ids.filter((_, i) => i % 7 === 1).length, DIM, 4).flat()) });
  const phases = store.list().map((s) => s.phase);
  assert.ok(phases.includes('sealed') && phases.some((p) => p !== 'sealed'), `a mix of sealed and loose segments: ${phases}`);

  const capture = snapshots.capture(index, 4);
  const want = state(store, ids);
  const queries = randomVectors(5, DIM, 5);
  const answers = queries.map((q) => searchIds(index, store, q, 10));
  // A write after the capture must not show up in the restored state.
  index.apply({ t: 'delete', seq: 5, collection: 's', ids: ['r1', 'r2'] });
  const { fresh, report } = await writeAndRestore(snapshots, index, store, capture);
  assert.equal(report.seq, 4);
  const restored = fresh.require('s');
  assert.deepEqual(restored.settings, store.settings);
  assert.equal(restored.uid, store.uid);
  assert.deepEqual(state(restored, ids), want);
  assert.equal(restored.count, want.size);
  assert.equal(report.records, want.size);
  assert.deepEqual(
    restored.list().map((s) => (s.phase === 'sealed' ? 'sealed' : 'loose')),
    capture.body.collections[0]!.segments.map((s) => (s.nodes === null ? 'loose' : 'sealed')),
  );
  const loose = restored.list().filter((s) => s.phase !== 'sealed');
  assert.ok(loose.slice(0, -1).every((s) => s.phase === 'frozen'), 'earlier loose segments come back frozen');
  assert.equal(loose.at(-1)!.phase, loose.at(-1)!.count < loose.at(-1)!.capacity ? 'growing' : 'frozen', 'the last one keeps growing while it has room');
  queries.forEach((q, i) => assert.deepEqual(searchIds(fresh, restored, q, 10), answers[i]));

  // Every file in the collection's folder is named by the snapshot or by a live graph.
  const files = await readdir(join(snapshots.segmentsDir, store.uid));
  for (const name of files) assert.match(name, /^\d+(-\d+)?\.(vectors|records)$|^\d+\.usearch$/);
});

test('i8 graphs come back with the quantiser they were built with: the same graph answers after a restore', async () => {
  const index = newIndex();
  const builder = new GraphBuilder(index.arena.memory);
  const snapshots = new Snapshots(`${dir}/i8`);
  const indexer = new Indexer({ index, builder, dir: snapshots.segmentsDir, sealIdleMs: 3_600_000, sealMinRecords: 10, maxSegments: 8, compactDeadRatio: 0.9, buildThreads: 1 });
  closers.push(() => indexer.close(), () => builder.close());
  index.onFrozen = () => setImmediate(() => indexer.kick());
  index.apply({ t: 'create', seq: 1, collection: 'q', dimension: DIM, metric: 'l2', index: { m: 8, storage: 'i8' } });
  const store = index.require('q');
  // Far from the origin: a graph searched without its quantiser's centre finds nothing near.
  const vecs = randomVectors(2300, DIM, 8).map((v) => v.map((x) => Math.fround(x + 500)));
  index.apply({ t: 'upsert', seq: 2, collection: 'q', ids: vecs.map((_, i) => `q${i}`), embeddings: new Float32Array(vecs.flat()) });
  await indexer.settled();
  const sealed = store.list().filter((s) => s.phase === 'sealed');
  assert.equal(sealed.length, 2);
  const queries = randomVectors(8, DIM, 9).map((v) => v.map((x) => Math.fround(x + 500)));
  const answers = queries.map((q) => searchIds(index, store, q, 10, false));
  const exact = queries.map((q) => new Set(searchIds(index, store, q, 10, true)));
  const found = answers.reduce((n, a, i) => n + a.filter((id) => exact[i]!.has(id)).length, 0);
  assert.ok(found >= 0.9 * 10 * queries.length, `recall@10 of the i8 graphs: ${found / (10 * queries.length)}`);
  const { fresh } = await writeAndRestore(snapshots, index, store, snapshots.capture(index, 2));
  const restored = fresh.require('q');
  const back = restored.list().filter((s) => s.phase === 'sealed');
  assert.deepEqual(
    back.map((s) => ({ scale: s.graph!.quantizer!.scale, offset: [...s.graph!.quantizer!.offset] })),
    sealed.map((s) => ({ scale: s.graph!.quantizer!.scale, offset: [...s.graph!.quantizer!.offset] })),
  );
  queries.forEach((q, i) => assert.deepEqual(searchIds(fresh, restored, q, 10, false), answers[i]));
});

test('a damaged snapshot file is reported, not trusted', async () => {
  const snapshots = new Snapshots(dir);
  const m = JSON.parse(await readFile(join(snapshots.dir, 'manifest.json'), 'utf8')) as { file: string };
  const path = join(snapshots.dir, m.file);
  const bytes = await readFile(path);
  bytes[bytes.length - 3] ^= 0x55;
  await writeFile(path, bytes);
  const read = await snapshots.read();
  assert.ok(read && 'warning' in read, 'a warning, not a body');
  assert.match(read.warning, /does not match its manifest/);
});

test('a segment merged over its sources’ chunks (with dead holes) restores with the same records and answers', async () => {
  const index = newIndex();
  const builder = new GraphBuilder(index.arena.memory);
  const snapshots = new Snapshots(join(dir, 'span'));
  const indexer = new Indexer({ index, builder, dir: snapshots.segmentsDir, sealIdleMs: 30, sealMinRecords: 10, maxSegments: 8, compactDeadRatio: 0.3, buildThreads: 1 });
  closers.push(() => indexer.close(), () => builder.close());
  index.onFrozen = () => setImmediate(() => indexer.kick());
  index.apply({ t: 'create', seq: 1, collection: 'h', dimension: DIM, metric: 'l2' });
  const store = index.require('h');
  const vecs = randomVectors(1600, DIM, 8);
  const ids = vecs.map((_, i) => `h${i}`);
  const idle = async (): Promise<void> => {
    await new Promise((r) => setTimeout(r, 60));
    indexer.kick();
    await indexer.settled();
  };
  // 476 records sealed on their own (a partial chunk), then 1,124 more: sealed, then merged with it.
  index.apply({ t: 'upsert', seq: 2, collection: 'h', ids: ids.slice(0, 476), embeddings: new Float32Array(vecs.slice(0, 476).flat()) });
  await idle();
  index.apply({ t: 'upsert', seq: 3, collection: 'h', ids: ids.slice(476), embeddings: new Float32Array(vecs.slice(476).flat()) });
  for (let i = 0; i < 5 && store.list().length > 1; i++) await idle();
  const [merged] = store.list();
  assert.equal(store.list().length, 1, `one merged segment: ${JSON.stringify(indexer.status(store))}`);
  assert.ok(merged!.count > merged!.live, `holes: count ${merged!.count}, live ${merged!.live}`);
  index.apply({ t: 'delete', seq: 4, collection: 'h', ids: ['h3', 'h700'] });
  const capture = snapshots.capture(index, 4);
  const want = state(store, ids);
  const queries = randomVectors(5, DIM, 9);
  const answers = queries.map((q) => searchIds(index, store, q, 10));
  const { fresh } = await writeAndRestore(snapshots, index, store, capture);
  const restored = fresh.require('h');
  assert.deepEqual(state(restored, ids), want);
  assert.equal(restored.count, 1598);
  queries.forEach((q, i) => assert.deepEqual(searchIds(fresh, restored, q, 10), answers[i]));
});

test('a segment that fails to restore (short vectors file) gives its memory back: dropping what was restored leaves the arena as it was', async () => {
  const sub = join(dir, 'short');
  const index = newIndex();
  index.apply({ t: 'create', seq: 1, collection: 'v', dimension: DIM, metric: 'l2' });
  const store = index.require('v');
  const vecs = randomVectors(1500, DIM, 9);
  index.apply({ t: 'upsert', seq: 2, collection: 'v', ids: vecs.map((_, i) => `v${i}`), embeddings: new Float32Array(vecs.flat()) });
  const snapshots = new Snapshots(sub);
  const capture = snapshots.capture(index, 2);
  await snapshots.write(index, capture, () => new Map([[store.uid, { serials: new Set(store.list().map((s) => s.serial)), from: store.serialWatermark }]]));
  capture.release();
  const files = await readdir(join(snapshots.segmentsDir, store.uid));
  // The last segment's file: the ones before it restore whole, then this one comes up short.
  const vectors = files.filter((f) => f.endsWith('.vectors')).sort((a, b) => Number(/^\d+/.exec(a)![0]) - Number(/^\d+/.exec(b)![0])).at(-1)!;
  const path = join(snapshots.segmentsDir, store.uid, vectors);
  await writeFile(path, (await readFile(path)).subarray(0, 100));
  const read = await snapshots.read();
  assert.ok(read && 'body' in read);
  const fresh = newIndex();
  const baseline = fresh.arena.usedBytes;
  await assert.rejects(snapshots.restore(fresh, read.body), /are short/);
  for (const c of fresh.list()) fresh.apply({ t: 'drop', seq: 0, collection: c.name });
  assert.equal(fresh.reclaimer.pending, 0);
  assert.equal(fresh.arena.usedBytes, baseline, 'the segment being restored was given back');
});
