/**
 * Record ids in the shared arena (id-heap.ts): any id comes back as written, from the main
 * thread and from a worker; a batch's ids are reserved with its chunks, all or nothing; id pages
 * are freed once no chunk points into them and reused; a quiet collection pins no other's pages;
 * compaction and merges over chunks keep every id; text UTF-8 cannot keep is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Arena } from '../../src/vector-index/arena.js';
import { CHUNK_SLOTS, ID_PAGE_BYTES, chunkLayout } from '../../src/vector-index/layout.js';
import { IdHeap, storableId, wellFormed } from '../../src/vector-index/id-heap.js';
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
  assert.ok(store.idHeap.bytes > 64 * 1024, `several pages (${store.idHeap.bytes} bytes)`);
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
  assert.throws(() => store.reserveFor(long), { code: 'HOTVEC_INDEX_FULL' });
  assert.equal(ix.arena.usedBytes, used, 'the chunks reserved for the failed batch were given back');
  assert.throws(() => ix.apply({ t: 'upsert', seq: 3, collection: 'c', ids: long, embeddings: vectors(3000) }), { code: 'HOTVEC_INDEX_FULL' });
  assert.equal(store.count, 1);
  assert.equal(store.list()[0]!.count, 1, 'no slot was appended');
  assert.deepEqual(store.get(['keep']).map((r) => r.id), ['keep']);
  assert.equal(ix.arena.usedBytes, used);
});

test('id pages are freed with the last chunk pointing into them, and a dropped collection frees all of its own', () => {
  const ix = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 16, scratchSlots: 1, segmentRecords: CHUNK_SLOTS });
  const baseline = ix.arena.usedBytes;
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: DIM, metric: 'l2' });
  const store = ix.require('c');
  for (let b = 0; b < 8; b++) {
    const ids = Array.from({ length: 1000 }, (_, i) => `batch-${b}-record-${i}-${'z'.repeat(40)}`);
    ix.apply({ t: 'upsert', seq: 2 + b, collection: 'c', ids, embeddings: vectors(1000) });
  }
  assert.ok(store.idHeap.bytes >= 8 * 1000 * 60, `${store.idHeap.bytes} bytes of id pages`);
  // Delete the first 4,000 and compact their segments away: the pages only they pointed into go.
  ix.apply({ t: 'delete', seq: 20, collection: 'c', ids: Array.from({ length: 4000 }, (_, i) => `batch-${Math.floor(i / 1000)}-record-${i % 1000}-${'z'.repeat(40)}`) });
  const dead = store.list().filter((seg) => seg.live === 0);
  assert.ok(dead.length >= 3);
  const before = store.idHeap.bytes;
  assert.ok(store.replace(dead, null));
  assert.ok(store.idHeap.bytes <= before - 2 * 64 * 1024, `pages freed: ${before} → ${store.idHeap.bytes}`);
  assert.equal(store.get(['batch-7-record-999-' + 'z'.repeat(40)]).length, 1);
  ix.apply({ t: 'drop', seq: 21, collection: 'c' });
  assert.equal(ix.reclaimer.pending, 0);
  assert.equal(store.idHeap.bytes, 0);
  assert.equal(ix.arena.usedBytes, baseline, 'every chunk, descriptor and id page was given back');
});

test('id pages are all one size, so freed ones are reused: re-creating a collection again and again does not grow the arena', () => {
  const ix = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 16, scratchSlots: 1, segmentRecords: CHUNK_SLOTS });
  ix.apply({ t: 'create', seq: 1, collection: 'quiet', dimension: DIM, metric: 'l2' });
  let committed = 0;
  for (let round = 0; round < 40; round++) {
    ix.apply({ t: 'create', seq: 2, collection: 'busy', dimension: DIM, metric: 'l2' });
    // Batches of ~82 KB of ids whose total differs by 64 bytes every round (pages sized to their
    // batch would never be reused), with room for them on the same number of pages.
    const ids = Array.from({ length: 3000 }, (_, i) => `r${round % 10}-${i}-${'q'.repeat((i * 7) % 40)}${i < round ? 'x'.repeat(64) : ''}`);
    ix.apply({ t: 'upsert', seq: 3, collection: 'busy', ids, embeddings: vectors(ids.length) });
    ix.apply({ t: 'upsert', seq: 4, collection: 'quiet', ids: [`quiet-${round}`], embeddings: vectors(1) });
    ix.apply({ t: 'drop', seq: 5, collection: 'busy' });
    if (round === 4) committed = ix.arena.sharedBytes;
  }
  assert.equal(ix.arena.sharedBytes, committed, 'no more memory committed after the first rounds');
  assert.equal(ix.require('quiet').idHeap.bytes, 64 * 1024, "the quiet collection's 40 ids hold one page, no busy one's");
  assert.equal(ix.require('quiet').count, 40);
});

test('ids UTF-8 cannot keep (a lone surrogate) are refused before they reach the arena', () => {
  const ix = index();
  assert.throws(() => ix.apply({ t: 'upsert', seq: 2, collection: 'c', ids: ['ok', 'bad\ud800'], embeddings: vectors(2) }), /well-formed/);
  assert.equal(ix.require('c').count, 0, 'nothing appended');
  assert.equal(wellFormed('pair 🧭 \ud83e\udded'), true);
  for (const bad of ['\ud800', 'x\udc00', '\udc00\ud800']) assert.equal(wellFormed(bad), false, JSON.stringify(bad));
});

test('a compacting merge and a merge over chunks keep every live id', () => {
  const ix = index(256 * MiB, CHUNK_SLOTS);
  const store = ix.require('c');
  const n = 3 * CHUNK_SLOTS;
  const ids = Array.from({ length: n }, (_, i) => `${odd[i % odd.length]!.slice(0, 1000)}#${i}`);
  ix.apply({ t: 'upsert', seq: 2, collection: 'c', ids, embeddings: vectors(n) });
  ix.apply({ t: 'delete', seq: 3, collection: 'c', ids: ids.filter((_, i) => i % 3 === 0) });
  const [s1, s2, s3] = store.list();

  const copy = store.compacting([s1!, s2!]);
  // What the graph builder's copy does besides the vectors: the copied slots become LIVE.
  const u8 = new Uint8Array(ix.arena.buffer);
  for (let slot = 0; slot < copy.merged.count; slot++) u8[copy.merged.stateOffset(slot)] = 1;
  assert.ok(store.replace([s1!, s2!], copy.merged, copy.moves));
  const over = store.spanning([copy.merged, s3!]);
  assert.ok(store.replace([copy.merged, s3!], over.merged, over.moves));
  assert.equal(ix.reclaimer.pending, 0, 'the sources are released');

  const live = ids.filter((_, i) => i % 3 !== 0);
  assert.deepEqual(store.get(live).map((r) => r.id), live);
  const [merged] = store.list();
  const seen = [...merged!.liveSlots()].map((slot) => merged!.id(slot));
  assert.deepEqual(seen.sort(), [...live].sort());
});

/** An IdHeap alone, with one chunk block to point entries from. */
function heapAndChunk(): { arena: Arena; heap: IdHeap; layout: ReturnType<typeof chunkLayout>; chunk: number } {
  const arena = new Arena({ maxBytes: 64 * MiB, maxDimension: 16, scratchSlots: 1 });
  const layout = chunkLayout(DIM);
  return { arena, heap: new IdHeap(arena), layout, chunk: arena.alloc(layout.allocBytes) };
}

test('a reservation holds every id of the batch, the room lost at page ends included: writing them takes no more pages', () => {
  const { heap, layout, chunk } = heapAndChunk();
  // 2,200-byte ids: 29 fit a 64 KiB page (1,736 bytes left over), so 59 of them (129,800 bytes,
  // under two pages) need three pages.
  const ids = Array.from({ length: 59 }, (_, i) => String(i).padStart(2200, '-'));
  heap.reserve(IdHeap.bytesOf(ids));
  const reserved = heap.bytes;
  assert.ok(reserved >= 3 * ID_PAGE_BYTES, `${reserved} bytes reserved`);
  ids.forEach((id, slot) => heap.put(layout, chunk, slot, id));
  assert.equal(heap.bytes, reserved, 'no page taken beyond the reservation');
  ids.forEach((id, slot) => assert.equal(heap.read(layout, chunk, slot), id));
});

test('spare pages set aside for a batch that never came are freed when the collection is dropped', () => {
  const ix = index();
  const baseline = ix.arena.usedBytes;
  ix.require('c').reserveFor(Array.from({ length: 400 }, (_, i) => `spare-${i}-${'s'.repeat(500)}`));
  assert.ok(ix.require('c').idHeap.bytes >= 3 * ID_PAGE_BYTES);
  assert.ok(ix.arena.usedBytes > baseline);
  const store = ix.require('c');
  ix.apply({ t: 'drop', seq: 2, collection: 'c' });
  assert.equal(store.idHeap.bytes, 0);
  assert.ok(ix.arena.usedBytes <= baseline, 'the reservation given back');
});

test('the page being filled, once no chunk points into it, is freed when writing moves on to the next page', () => {
  const { arena, heap, layout, chunk } = heapAndChunk();
  const used = arena.usedBytes;
  for (let slot = 0; slot < 21; slot++) heap.put(layout, chunk, slot, String(slot).padStart(3000, '-'));
  assert.equal(heap.bytes, ID_PAGE_BYTES, 'one page, 2,536 bytes left');
  heap.releaseChunk(chunk); // the page being filled stays (it is still being filled)
  assert.equal(heap.bytes, ID_PAGE_BYTES);
  const other = arena.alloc(layout.allocBytes);
  heap.put(layout, other, 0, 'y'.repeat(3000)); // does not fit: a new page, and the old one is freed
  assert.equal(heap.bytes, ID_PAGE_BYTES);
  assert.equal(heap.read(layout, other, 0), 'y'.repeat(3000));
  assert.equal(arena.usedBytes, used + ID_PAGE_BYTES + layout.allocBytes);
});

test('storableId: non-empty, well-formed, at most 3,072 UTF-8 bytes', () => {
  assert.equal(storableId('a'), true);
  assert.equal(storableId('語'.repeat(1024)), true);
  assert.equal(storableId('語'.repeat(1025)), false);
  assert.equal(storableId('x'.repeat(3073)), false);
  assert.equal(storableId(''), false);
  assert.equal(storableId('a\ud800'), false);
});
