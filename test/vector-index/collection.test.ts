/**
 * Segment bookkeeping of one collection: a merge of non-adjacent segments takes the earliest
 * source's place (the growing segment stays last and keeps taking writes), an all-dead segment
 * is removed without a replacement, and a failed merge gives its memory back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHUNK_SLOTS } from '../../src/vector-index/layout.js';
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
function mergeCopy(index: VectorIndex, sources: Segment[]): { merged: Segment; locs: { seg: Segment; slot: number }[] } {
  const store = index.require('c');
  const locs = sources.flatMap((seg) => [...seg.liveSlots()].map((slot) => ({ seg, slot })));
  const merged = store.newSegment(locs.length);
  locs.forEach(({ seg, slot }) => {
    merged.append(seg.ids[slot]!, seg.vector(slot), seg.metadatas[slot] ?? null, seg.documents[slot] ?? null, seg.versions[slot]!);
  });
  merged.phase = 'sealed';
  return { merged, locs };
}

test('merging the first and third segments keeps the growing one last, and it keeps taking writes', () => {
  const index = setup();
  const store = index.require('c');
  const [s1, s2, s3, g] = store.list();
  assert.deepEqual(store.list().map((s) => s.phase), ['frozen', 'frozen', 'frozen', 'growing']);
  const { merged, locs } = mergeCopy(index, [s3!, s1!]);
  assert.ok(store.replace([s3!, s1!], merged, locs));
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
  assert.throws(() => store.replace([s2!], null, []), /still has/);
  index.apply({ t: 'delete', seq: 3, collection: 'c', ids: Array.from({ length: CHUNK_SLOTS }, (_, i) => `r${i}`) });
  assert.equal(s1!.live, 0);
  assert.ok(store.replace([s1!], null, []));
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
