/**
 * The shared index on one thread: exact k-NN against brute force for every metric and both
 * kernels, across chunk boundaries, with tombstones, overwrites, appends after them and drops.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createScalarKernels, createWasmKernels } from '../../src/kernels/index.js';
import type { Metric } from '../../src/persist/ops.js';
import { CHUNK_SLOTS } from '../../src/vector-index/layout.js';
import { Scanner, graphCandidates } from '../../src/vector-index/scan.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { bruteForce, sameNeighbours } from '../helpers/reference.js';
import { randomVectors } from '../helpers/hotvec.js';

const MiB = 1024 * 1024;

function setup(kernel: 'wasm' | 'scalar') {
  const index = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 64, scratchSlots: 1 });
  const memory = index.arena.memory;
  const { base, queryOffset, distancesOffset } = index.arena.scratch;
  const kernels = kernel === 'wasm' ? createWasmKernels(memory) : createScalarKernels(memory);
  const scanner = new Scanner(memory, kernels, { queryOffset: base + queryOffset, distancesOffset: base + distancesOffset });
  return { index, scanner };
}

function search(scanner: Scanner, index: VectorIndex, name: string, q: number[], k: number): { ids: string[]; distances: number[] } {
  const store = index.require(name);
  const view = store.searchView();
  const r = scanner.search(view.target, new Float32Array(q), k);
  const ids: string[] = [];
  const distances: number[] = [];
  for (let i = 0; i < k && r.refs[i]! >= 0; i++) {
    ids.push(store.resolve(view, r.refs[i]!)!.id);
    distances.push(r.distances[i]!);
  }
  return { ids, distances };
}

for (const kernel of ['wasm', 'scalar'] as const) {
  for (const metric of ['l2', 'cosine', 'ip'] as Metric[]) {
    test(`${kernel} ${metric}: exact across chunks, after overwrites and deletes`, () => {
      const { index, scanner } = setup(kernel);
      const dim = 13;
      const n = 2 * CHUNK_SLOTS + 77;
      index.apply({ t: 'create', seq: 1, collection: 'c', dimension: dim, metric });
      const vecs = randomVectors(n, dim, 1);
      const ids = vecs.map((_, i) => `v${i}`);
      index.apply({ t: 'upsert', seq: 2, collection: 'c', ids, embeddings: new Float32Array(vecs.flat()) });
      const model = new Map(ids.map((id, i) => [id, vecs[i]!]));
      const queries = randomVectors(8, dim, 2);
      const check = (label: string): void => {
        for (const q of queries) {
          const problem = sameNeighbours(search(scanner, index, 'c', q, 15), bruteForce(metric, model, q, 15));
          assert.equal(problem, null, `${label}: ${problem}`);
        }
      };
      check('fresh');
      // Overwrite a third with new vectors, delete another slice, then append new ids.
      const over = ids.filter((_, i) => i % 3 === 0);
      const overVecs = randomVectors(over.length, dim, 3);
      index.apply({ t: 'upsert', seq: 3, collection: 'c', ids: over, embeddings: new Float32Array(overVecs.flat()) });
      over.forEach((id, i) => model.set(id, overVecs[i]!));
      const del = ids.filter((_, i) => i % 5 === 1);
      index.apply({ t: 'delete', seq: 4, collection: 'c', ids: del });
      del.forEach((id) => model.delete(id));
      check('after overwrite + delete');
      const fresh = randomVectors(500, dim, 4);
      const freshIds = fresh.map((_, i) => `n${i}`);
      index.apply({ t: 'upsert', seq: 5, collection: 'c', ids: freshIds, embeddings: new Float32Array(fresh.flat()) });
      freshIds.forEach((id, i) => model.set(id, fresh[i]!));
      check('after appends behind the tombstones');
      assert.equal(index.require('c').count, model.size);
      for (const q of queries.slice(0, 2)) {
        const r = search(scanner, index, 'c', q, 20);
        for (const id of r.ids) assert.ok(model.has(id), `${id} was deleted but returned`);
      }
    });
  }
}

test('k larger than the collection returns every live record once', () => {
  const { index, scanner } = setup('wasm');
  index.apply({ t: 'create', seq: 1, collection: 's', dimension: 2, metric: 'l2' });
  index.apply({ t: 'upsert', seq: 2, collection: 's', ids: ['a', 'b', 'c'], embeddings: new Float32Array([0, 0, 1, 1, 2, 2]) });
  index.apply({ t: 'delete', seq: 3, collection: 's', ids: ['b'] });
  assert.deepEqual(search(scanner, index, 's', [0, 0], 10), { ids: ['a', 'c'], distances: [0, 8] });
});

test('dropping a collection releases its memory for the next one, and a re-create starts empty', () => {
  const { index, scanner } = setup('wasm');
  index.apply({ t: 'create', seq: 1, collection: 'd', dimension: 4, metric: 'l2' });
  index.apply({ t: 'upsert', seq: 2, collection: 'd', ids: ['x'], embeddings: new Float32Array([1, 2, 3, 4]) });
  const used = index.arena.usedBytes;
  index.apply({ t: 'drop', seq: 3, collection: 'd' });
  assert.equal(index.arena.usedBytes, 0, 'chunks, descriptors and id pages');
  index.apply({ t: 'create', seq: 4, collection: 'd', dimension: 4, metric: 'l2' });
  assert.deepEqual(search(scanner, index, 'd', [1, 2, 3, 4], 3), { ids: [], distances: [] });
  index.apply({ t: 'upsert', seq: 5, collection: 'd', ids: ['y'], embeddings: new Float32Array([1, 2, 3, 4]) });
  assert.equal(index.arena.usedBytes, used);
});

test('a full arena refuses the write with INDEX_FULL and changes nothing', () => {
  const index = new VectorIndex({ maxBytes: 64 * MiB, maxDimension: 4096, scratchSlots: 1 });
  index.apply({ t: 'create', seq: 1, collection: 'big', dimension: 4096, metric: 'l2' });
  const store = index.require('big');
  // One chunk of 1024 × 4096 floats is 16 MiB: three fit, the fourth does not.
  assert.throws(() => store.reserve(4 * CHUNK_SLOTS, 0), { code: 'HOTVEC_INDEX_FULL' });
  assert.equal(store.count, 0);
  store.reserve(CHUNK_SLOTS, 0);
});

test('graph candidates: k (more with dead nodes); f16 k more; i8 every one the search expands, at least 3k more', () => {
  assert.equal(graphCandidates(10, 100, 'f32'), 10);
  assert.equal(graphCandidates(10, 100, 'f32', 0.5), 20);
  assert.equal(graphCandidates(10, 100, 'f16'), 20);
  assert.equal(graphCandidates(10, 100, 'f16', 0.5), 30);
  assert.equal(graphCandidates(10, 100, 'i8'), 100);
  assert.equal(graphCandidates(10, 16, 'i8'), 40);
  assert.equal(graphCandidates(10, 16, 'i8', 0.25), 70);
});
