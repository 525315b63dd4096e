/**
 * The benchmark's search ceiling (load-tests/vs-chroma/search-ceiling.ts) answers what the bare
 * search over the graph files answers — the k nearest over every file — in hotvec's JSON shape,
 * refuses a query of the wrong dimension, and serves from every one of its threads on one port.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startSearchCeiling, type ReferenceServer } from '../../load-tests/vs-chroma/reference-servers.js';
import { newIndex } from '../../src/graph/usearch.js';
import type { IndexSettings } from '../../src/vector-index/settings.js';
import { removeDir, rng, tempDir } from '../helpers/hotvec.js';

const dim = 16;
const n = 300;
const k = 5;
const settings: IndexSettings = { m: 16, efConstruction: 128, efSearch: 128, storage: 'f32' };
const random = rng(7);
const data = Float32Array.from({ length: n * dim }, () => random() * 2 - 1);
let dir = '';
let ceiling: ReferenceServer;

before(async () => {
  dir = await tempDir('hotvec-ceiling-');
  // Two graph files with distinct keys (0–149 and 150–299): the answer is the k nearest of both.
  const files = [0, 150].map((from) => {
    const index = newIndex(dim, 'l2', settings);
    const count = 150;
    index.add(BigUint64Array.from({ length: count }, (_, i) => BigInt(from + i)), data.slice(from * dim, (from + count) * dim), 1);
    const file = join(dir, `g${from}.usearch`);
    index.save(file);
    return file;
  });
  ceiling = await startSearchCeiling({ dim, k, ef: 128, candidates: 2 * k, threads: 2, settings, files });
});

after(async () => {
  await ceiling?.stop();
  await removeDir(dir);
});

function nearest(query: Float32Array): number[] {
  const d = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (query[j]! - data[i * dim + j]!) ** 2;
    return { i, s };
  });
  return d.sort((a, b) => a.s - b.s).slice(0, k).map((x) => x.i);
}

test('answers the k nearest over every graph file, nearest first', async () => {
  for (let q = 0; q < 20; q++) {
    const query = Float32Array.from({ length: dim }, () => random() * 2 - 1);
    const res = await fetch(ceiling.url, { method: 'POST', body: JSON.stringify({ embeddings: [Array.from(query)], k }) });
    assert.equal(res.status, 200);
    const answer = (await res.json()) as { ids: string[][]; distances: number[][] };
    assert.deepEqual(answer.ids, [nearest(query).map((i) => `id-${i}`)]);
    const distances = answer.distances[0]!;
    assert.equal(distances.length, k);
    for (let i = 1; i < k; i++) assert.ok(distances[i - 1]! <= distances[i]!, `distances in order: ${distances.join(', ')}`);
  }
});

test('refuses a query of another dimension', async () => {
  const res = await fetch(ceiling.url, { method: 'POST', body: JSON.stringify({ embeddings: [[1, 2, 3]], k }) });
  assert.equal(res.status, 400);
});

test('every thread takes connections on the one port', async () => {
  const threads = new Set<string>();
  const base = ceiling.url.replace(/\/query$/, '');
  // A fresh connection per request: the kernel picks a thread per connection (SO_REUSEPORT).
  for (let i = 0; i < 40 && threads.size < 2; i++) {
    const res = await fetch(`${base}/thread`, { headers: { connection: 'close' } });
    threads.add(await res.text());
  }
  assert.deepEqual([...threads].sort(), ['0', '1']);
});
