/**
 * Segment bookkeeping of one collection: a merge of non-adjacent segments takes the earliest
 * source's place (the growing segment stays last and keeps taking writes), an all-dead segment
 * is removed without a replacement, a failed merge gives its memory back, and a merge over its
 * sources' chunks copies nothing, keeps tombstones (also those set while it builds), leaves dead
 * holes after a partial chunk and frees the chunks exactly once.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHUNK_SLOTS } from '../../src/vector-index/layout.js';
import { Moves } from '../../src/vector-index/moves.js';
import type { Segment } from '../../src/vector-index/segment.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { randomVectors } from '../helpers/hotvec.js';

const MiB = 1024 * 1024;

function setup(): VectorIndex {
  const index = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 16, scratchSlots: 1, segmentRecords: CHUNK_SLOTS });
  index.apply({ t: 'create', seq: 1, collection: 'c', dimension: 4, metric: 'l2' });
  const n = 3 * CHUNK_SLOTS + 10;
  index.apply({ t: 'upsert', seq: 2, collection: 'c', ids: Array.from({ length: n }, (_, i) => `r${i}`), embeddings: new Float32Array(randomVectors(n, 4, 1).flat()) });
  return index;
}

/** What the indexer does for a merge, minus the graph: copy the sources' live records into a new segment. */
function mergeCopy(index: VectorIndex, sources: Segment[]): { merged: Segment; moves: Moves } {
  const store = index.require('c');
  const moves = new Moves(sources, sources.reduce((n, s) => n + s.live, 0));
  sources.forEach((seg, i) => {
    for (const slot of seg.liveSlots()) moves.add(i, slot, moves.length);
  });
  const merged = store.newSegment(moves.length);
  for (let j = 0; j < moves.length; j++) {
    const seg = moves.segment(j);
    const slot = moves.from[j]!;
    merged.append(seg.id(slot)!, seg.vector(slot), seg.metadatas[slot] ?? null, seg.documents[slot] ?? null, seg.versions[slot]!);
  }
  merged.phase = 'sealed';
  return { merged, moves };
}

test('merging the first and third segments keeps the growing one last, and it keeps taking writes', () => {
  const index = setup();
  const store = index.require('c');
  const [s1, s2, s3, g] = store.list();
  assert.deepEqual(store.list().map((s) => s.phase), ['frozen', 'frozen', 'frozen', 'growing']);
  const { merged, moves } = mergeCopy(index, [s3!, s1!]);
  assert.ok(store.replace([s3!, s1!], merged, moves));
  assert.deepEqual(store.list(), [merged, s2, g]);
  assert.equal(store.growing, g);
  index.apply({ t: 'upsert', seq: 3, collection: 'c', ids: ['late'], embeddings: new Float32Array([1, 2, 3, 4]) });
  assert.equal(store.list().at(-1), g, 'the write went to the same growing segment');
  assert.equal(store.count, 3 * CHUNK_SLOTS + 11);
  for (const id of ['r0', `r${2 * CHUNK_SLOTS + 5}`, 'late']) assert.equal(store.get([id]).length, 1, id);
});

test('an all-dead segment is removed without a replacement; one with live records is not', () => {
  const index = setup();
  const store = index.require('c');
  const [s1, s2] = store.list();
  assert.throws(() => store.replace([s2!], null), /still has/);
  index.apply({ t: 'delete', seq: 3, collection: 'c', ids: Array.from({ length: CHUNK_SLOTS }, (_, i) => `r${i}`) });
  assert.equal(s1!.live, 0);
  assert.ok(store.replace([s1!], null));
  assert.ok(!store.list().includes(s1!));
  assert.equal(store.count, 2 * CHUNK_SLOTS + 10);
});

test('a merge that is never installed gives its memory back', () => {
  const index = setup();
  const store = index.require('c');
  const before = index.arena.usedBytes;
  const { merged } = mergeCopy(index, [store.list()[0]!]);
  assert.ok(index.arena.usedBytes > before);
  store.releaseUnused(merged);
  assert.equal(index.arena.usedBytes, before);
});

test('a merge over its sources’ chunks copies nothing, keeps records and tombstones, and frees the chunks once', () => {
  const index = setup();
  const store = index.require('c');
  const [s1, s2, , g] = store.list();
  index.apply({ t: 'delete', seq: 3, collection: 'c', ids: ['r5'] });
  const before = index.arena.usedBytes;
  const { merged, moves } = store.spanning([s1!, s2!]);
  assert.equal(index.arena.usedBytes - before, 64, 'only a descriptor: no chunk, no vector copied');
  assert.equal(merged.count, 2 * CHUNK_SLOTS);
  assert.equal(merged.live, 2 * CHUNK_SLOTS - 1);
  assert.deepEqual([merged.id(5), merged.id(CHUNK_SLOTS + 2)], ['r5', `r${CHUNK_SLOTS + 2}`], 'the ids are where they were: no id copied either');
  index.apply({ t: 'delete', seq: 4, collection: 'c', ids: ['r7', `r${CHUNK_SLOTS + 3}`] }); // while the graph builds
  assert.ok(store.replace([s1!, s2!], merged, moves));
  assert.equal(merged.live, 2 * CHUNK_SLOTS - 3, 'deleted meanwhile: tombstoned in the merged segment');
  assert.deepEqual([...merged.liveSlots()].slice(0, 7), [0, 1, 2, 3, 4, 6, 8]);
  for (const id of ['r5', 'r7', `r${CHUNK_SLOTS + 3}`]) assert.equal(store.get([id]).length, 0, id);
  const vectors = randomVectors(3 * CHUNK_SLOTS + 10, 4, 1);
  for (const i of [0, 8, CHUNK_SLOTS + 4, 2 * CHUNK_SLOTS + 1]) {
    const [rec] = store.get([`r${i}`]);
    assert.deepEqual([...rec!.embedding], vectors[i]!.map(Math.fround), `r${i}`);
  }
  // The sources are released (descriptors only); the chunks now belong to the merged segment.
  assert.equal(index.arena.usedBytes, before - 64);
  index.apply({ t: 'delete', seq: 5, collection: 'c', ids: Array.from({ length: 2 * CHUNK_SLOTS }, (_, i) => `r${i}`) });
  assert.ok(store.replace([merged], null));
  assert.equal(index.arena.usedBytes, before - 64 - 64 - 2 * store.layout.allocBytes, 'freed once, by the owner');
  assert.equal(store.list().at(-1), g);
});

test('a merge over chunks: a partial chunk leaves dead holes; never installed, it frees only its descriptor', () => {
  const index = setup();
  const store = index.require('c');
  const g = store.freezeGrowing()!; // 10 records in one chunk
  const s1 = store.list()[0]!;
  // A chunk image restored from a snapshot may hold LIVE states past the count: they must become holes.
  const u8 = new Uint8Array(index.arena.buffer);
  for (let slot = 10; slot < 20; slot++) u8[g.stateOffset(slot)] = 1;
  const before = index.arena.usedBytes;
  const { merged } = store.spanning([g, s1]);
  assert.equal(merged.count, CHUNK_SLOTS + CHUNK_SLOTS);
  assert.equal(merged.live, 10 + CHUNK_SLOTS);
  const live = [...merged.liveSlots()];
  assert.deepEqual(live.slice(8, 12), [8, 9, CHUNK_SLOTS, CHUNK_SLOTS + 1], 'slots 10…1023 are holes');
  assert.equal(merged.id(10), undefined);
  store.releaseUnused(merged);
  assert.equal(index.arena.usedBytes, before, 'the sources keep their chunks');
  assert.equal(store.get([`r${3 * CHUNK_SLOTS + 9}`, 'r0']).length, 2);
});
