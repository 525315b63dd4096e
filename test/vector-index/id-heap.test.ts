/**
 * Record ids in the shared arena (id-heap.ts): any id comes back as written, from the main
 * thread and from a worker; a batch's ids are reserved with its chunks, all or nothing; id pages
 * are freed once no chunk points into them; compaction and merges over chunks keep every id.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { CHUNK_SLOTS } from '../../src/vector-index/layout.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';

const MiB = 1024 * 1024;
const DIM = 4;

function index(maxBytes = 256 * MiB, segmentRecords = 4 * CHUNK_SLOTS): VectorIndex {
  const ix = new VectorIndex({ maxBytes, maxDimension: 16, scratchSlots: 1, segmentRecords });
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: DIM, metric: 'l2' });
  return ix;
}

const vectors = (n: number): Float32Array => Float32Array.from({ length: n * DIM }, (_, i) => (i % 7) - 3);

/** Ids of every kind: ASCII, two- to four-byte UTF-8, the longest allowed (1,024 characters, 3 KiB), one character. */
const odd = ['a', 'é', '日本語の id', 'emoji 🧭 id', 'x'.repeat(1024), '語'.repeat(1024), 'id with "quotes" and \\ backslash'];

test('ids come back as written, across chunk and page boundaries, and read alike from a worker thread', async () => {
  const ix = index();
  // A segment restored from a snapshot enters '' for a hole, possibly as the very first id.
  const hole = ix.require('c').newSegment(1);
  hole.setId(0, '');
  assert.equal(hole.id(0), undefined);
  ix.require('c').releaseUnused(hole);
  const store = ix.require('c');
  // Enough bytes for several 64 KiB pages, in batches of 500 (a page each fills and moves on).
  const ids = Array.from({ length: 3 * CHUNK_SLOTS }, (_, i) => (i < odd.length ? odd[i]! : `record-${i}-${'p'.repeat(i % 90)}`));
  for (let from = 0; from < ids.length; from += 500) {
    const batch = ids.slice(from, from + 500);
    ix.apply({ t: 'upsert', seq: 2, collection: 'c', ids: batch, embeddings: vectors(batch.length) });
  }
  assert.ok(ix.ids.bytes > 64 * 1024, `several pages (${ix.ids.bytes} bytes)`);
  const [seg] = store.list();
  for (let slot = 0; slot < ids.length; slot++) assert.equal(seg!.id(slot), ids[slot], `slot ${slot}`);
  assert.equal(seg!.id(ids.length), undefined, 'a slot never written has no id');
  assert.deepEqual(store.get(odd).map((r) => r.id), odd);

  const places: [number, number][] = [0, 1, 2, 3, 4, 5, 6, CHUNK_SLOTS - 1, CHUNK_SLOTS, 2 * CHUNK_SLOTS + 17, ids.length - 1].map((slot) => [seg!.chunks[Math.floor(slot / CHUNK_SLOTS)]!, slot % CHUNK_SLOTS]);
  const worker = new Worker(new URL('./id-reader-worker.js', import.meta.url), { workerData: { memory: ix.arena.memory, dimension: DIM, places } });
  const read = await new Promise<(string | null)[]>((resolve, reject) => worker.once('message', resolve).once('error', reject));
  await worker.terminate();
  assert.deepEqual(read, [0, 1, 2, 3, 4, 5, 6, CHUNK_SLOTS - 1, CHUNK_SLOTS, 2 * CHUNK_SLOTS + 17, ids.length - 1].map((slot) => ids[slot]));
});

test('an upsert whose ids do not fit fails with INDEX_FULL before anything changes', () => {
  const ix = index(8 * MiB);
  const store = ix.require('c');
  ix.apply({ t: 'upsert', seq: 2, collection: 'c', ids: ['keep'], embeddings: vectors(1) });
  const used = ix.arena.usedBytes;
  // 3,000 ids of 3 KiB each (1,024 three-byte characters): 9 MB of ids for an 8 MiB arena. Their
  // chunks would fit; the ids do not.
  const long = Array.from({ length: 3000 }, (_, i) => `${i}`.padEnd(1024, '語'));
  assert.throws(() => store.reserve(3000, 3000 * 3 * 1024), { code: 'HOTVEC_INDEX_FULL' });
  assert.equal(ix.arena.usedBytes, used, 'the chunks reserved for the failed batch were given back');
  assert.throws(() => ix.apply({ t: 'upsert', seq: 3, collection: 'c', ids: long, embeddings: vectors(3000) }), { code: 'HOTVEC_INDEX_FULL' });
  assert.equal(store.count, 1);
  assert.equal(store.list()[0]!.count, 1, 'no slot was appended');
  assert.deepEqual(store.get(['keep']).map((r) => r.id), ['keep']);
  assert.equal(ix.arena.usedBytes, used);
});

test('id pages are freed with the last chunk pointing into them; a dropped collection leaves only the page being filled', () => {
  const ix = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 16, scratchSlots: 1, segmentRecords: CHUNK_SLOTS });
  const baseline = ix.arena.usedBytes;
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: DIM, metric: 'l2' });
  for (let b = 0; b < 8; b++) {
    const ids = Array.from({ length: 1000 }, (_, i) => `batch-${b}-record-${i}-${'z'.repeat(40)}`);
    ix.apply({ t: 'upsert', seq: 2 + b, collection: 'c', ids, embeddings: vectors(1000) });
  }
  assert.ok(ix.ids.bytes >= 8 * 1000 * 60, `${ix.ids.bytes} bytes of id pages`);
  ix.apply({ t: 'drop', seq: 20, collection: 'c' });
  assert.equal(ix.reclaimer.pending, 0);
  assert.ok(ix.ids.bytes <= 64 * 1024, `only the page being filled is left (${ix.ids.bytes} bytes)`);
  assert.equal(ix.arena.usedBytes - baseline, ix.ids.bytes, 'every chunk, descriptor and other page was given back');
});

test('a compacting merge and a merge over chunks keep every live id', () => {
  const ix = index(256 * MiB, CHUNK_SLOTS);
  const store = ix.require('c');
  const n = 3 * CHUNK_SLOTS;
  const ids = Array.from({ length: n }, (_, i) => `${odd[i % odd.length]}#${i}`);
  ix.apply({ t: 'upsert', seq: 2, collection: 'c', ids, embeddings: vectors(n) });
  ix.apply({ t: 'delete', seq: 3, collection: 'c', ids: ids.filter((_, i) => i % 3 === 0) });
  const [s1, s2, s3] = store.list();

  const copy = store.compacting([s1!, s2!]);
  // What the graph builder's copy does besides the vectors: the copied slots become LIVE.
  const u8 = new Uint8Array(ix.arena.buffer);
  for (let slot = 0; slot < copy.merged.count; slot++) u8[copy.merged.stateOffset(slot)] = 1;
  assert.ok(store.replace([s1!, s2!], copy.merged, copy.locs, copy.slots));
  const over = store.spanning([copy.merged, s3!]);
  assert.ok(store.replace([copy.merged, s3!], over.merged, over.locs, over.slots));
  assert.equal(ix.reclaimer.pending, 0, 'the sources are released');

  const live = ids.filter((_, i) => i % 3 !== 0);
  assert.deepEqual(store.get(live).map((r) => r.id), live);
  const [merged] = store.list();
  const seen = [...merged!.liveSlots()].map((slot) => merged!.id(slot));
  assert.deepEqual(seen.sort(), [...live].sort());
});
