/**
 * An arena past 2 GiB (the default --max-index-bytes is 4 GiB): records, their ids, the
 * directory entry and the chunks all lie above 2^31, where a signed shift or an Int32 read
 * turns an offset negative. Workers answer exactly from there, deletes and a compaction keep
 * the answers right, and ids come back. (Untouched arena pages are never written, so this
 * commits only what it writes.)
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { QueryPool, scratchSlotsFor } from '../../src/pool/pool.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { randomVectors } from '../helpers/hotvec.js';
import { bruteForce } from '../helpers/reference.js';

const GiB = 1024 ** 3;
const DIM = 8;
const index = new VectorIndex({ maxBytes: 4 * GiB, maxDimension: DIM, scratchSlots: scratchSlotsFor(2), segmentRecords: 1024 });
const pool = new QueryPool({ memory: index.arena.memory, scratch: index.arena.scratch, workers: 2, maxQueue: 1000 });
after(() => pool.close());
const METRICS = ['l2', 'cosine', 'ip'] as const;

async function answers(name: string, q: number[][], k: number): Promise<string[][]> {
  const store = index.require(name);
  const epoch = index.reclaimer.enter();
  try {
    const view = store.searchView();
    const r = await pool.search(view.target, new Float32Array(q.flat()), k, { exact: true });
    return q.map((_, i) => Array.from(r.refs.subarray(i * k, (i + 1) * k)).filter((x) => x >= 0).map((ref) => store.resolve(view, ref)?.id ?? '?'));
  } finally {
    index.reclaimer.exit(epoch);
  }
}

test('records past 2 GiB of the arena: workers answer exactly (l2, cosine, ip), after deletes and a compaction too', async () => {
  // Push everything that follows past 2^31.
  const filler = index.arena.alloc(2 * GiB + 64 * 1024);
  assert.ok(filler + 2 * GiB > 2 ** 31);
  for (const metric of METRICS) {
    const name = `high-${metric}`;
    index.apply({ t: 'create', seq: 1, collection: name, dimension: DIM, metric });
    const vecs = randomVectors(3000, DIM, 11);
    const ids = vecs.map((_, i) => `high-é-${i}`);
    index.apply({ t: 'upsert', seq: 2, collection: name, ids, embeddings: new Float32Array(vecs.flat()) });
    const store = index.require(name);
    const view = store.searchView();
    assert.ok(view.target.directory.offset > 2 ** 31, `the directory entry at ${view.target.directory.offset}`);
    assert.ok(view.target.segments.every((s) => s.descriptorOffset > 2 ** 31 && s.chunks.every((c) => c > 2 ** 31)));

    const model = new Map(ids.map((id, i) => [id, vecs[i]!]));
    const queries = randomVectors(8, DIM, 12);
    const check = async (what: string): Promise<void> => {
      const got = await answers(name, queries, 5);
      queries.forEach((q, i) => assert.deepEqual(got[i], bruteForce(metric, model, q, 5).map((r) => r.id), `${metric}, ${what}: query ${i}`));
    };
    await check('as written');
    const gone = ids.filter((_, i) => i % 4 === 0);
    index.apply({ t: 'delete', seq: 3, collection: name, ids: gone });
    for (const id of gone) model.delete(id);
    await check('after deletes');
    // A compaction of the first two segments (the graph builder's vector copy done by hand).
    const [s1, s2] = store.list();
    const copy = store.compacting([s1!, s2!]);
    for (let i = 0; i < copy.moves.length; i++) {
      const seg = copy.moves.segment(i);
      const slot = copy.moves.from[i]!;
      const f32 = new Float32Array(index.arena.buffer);
      f32.set(seg.vector(slot), copy.merged.vectorOffset(i) / 4);
      f32[copy.merged.invNormOffset(i) / 4] = f32[seg.invNormOffset(slot) / 4]!;
      new Uint8Array(index.arena.buffer)[copy.merged.stateOffset(i)] = 1;
    }
    assert.ok(store.replace([s1!, s2!], copy.merged, copy.moves));
    await check('after a compaction');
    assert.deepEqual(store.get(['high-é-1', 'high-é-2999']).map((r) => r.id), ['high-é-1', 'high-é-2999']);
  }
});
