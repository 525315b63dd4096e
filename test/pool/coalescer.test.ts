/**
 * Query coalescing: queries submitted in one event-loop turn for the same view and options
 * travel in at most `parts` tasks, each caller gets exactly its own rows back, different
 * options never share a task, and a failed task fails every caller in it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueryCoalescer, type PartAnswer } from '../../src/pool/coalescer.js';
import type { CollectionTarget } from '../../src/vector-index/collection.js';
import type { SearchOptions } from '../../src/vector-index/scan.js';

const DIM = 3;
const target: CollectionTarget = { dimension: DIM, metric: 'l2', settings: { m: 16, efConstruction: 100, efSearch: 100, storage: 'f32' }, segments: [] };

/** A fake part runner: answers row r (first coordinate x) with refs x*10 .. x*10+k-1. */
function recorder(): { calls: { rows: number; options: SearchOptions }[]; run: (t: CollectionTarget, q: Float32Array, k: number, o: SearchOptions) => Promise<PartAnswer> } {
  const calls: { rows: number; options: SearchOptions }[] = [];
  return {
    calls,
    run: async (_t, q, k, options) => {
      const rows = q.length / DIM;
      calls.push({ rows, options });
      const refs = new Float64Array(rows * k);
      const distances = new Float32Array(rows * k);
      for (let r = 0; r < rows; r++) for (let i = 0; i < k; i++) refs[r * k + i] = q[r * DIM]! * 10 + i;
      return { refs, distances, runSeconds: 0.001 };
    },
  };
}

test('one turn of queries becomes at most one task per worker, and each caller gets its own rows', async () => {
  const rec = recorder();
  const c = new QueryCoalescer(rec.run, () => 2);
  const asks = Array.from({ length: 7 }, (_, i) => {
    const rows = (i % 3) + 1; // batches of 1..3 rows
    const q = new Float32Array(rows * DIM);
    for (let r = 0; r < rows; r++) q[r * DIM] = i * 100 + r;
    return { i, rows, answer: c.submit(target, q, 4, {}) };
  });
  const answers = await Promise.all(asks.map((a) => a.answer));
  assert.equal(rec.calls.length, 2, 'two tasks for two workers');
  assert.equal(rec.calls.reduce((s, x) => s + x.rows, 0), asks.reduce((s, a) => s + a.rows, 0));
  asks.forEach((a, j) => {
    const got = answers[j]!;
    assert.equal(got.refs.length, a.rows * 4);
    for (let r = 0; r < a.rows; r++) assert.deepEqual([...got.refs.subarray(r * 4, r * 4 + 4)], [0, 1, 2, 3].map((x) => (a.i * 100 + r) * 10 + x));
  });
});

test('different k or options never share a task; a lone query is sent as it is', async () => {
  const rec = recorder();
  const c = new QueryCoalescer(rec.run, () => 4);
  const one = (x: number): Float32Array => Float32Array.from([x, 0, 0]);
  await Promise.all([c.submit(target, one(1), 2, {}), c.submit(target, one(2), 2, { ef: 50 }), c.submit(target, one(3), 2, { exact: true }), c.submit(target, one(4), 3, {})]);
  assert.equal(rec.calls.length, 4);
  assert.deepEqual(rec.calls.map((x) => x.rows), [1, 1, 1, 1]);
  const later = await c.submit(target, one(5), 2, {});
  assert.deepEqual([...later.refs], [50, 51]);
});

test('a failed task rejects every caller that was in it', async () => {
  const c = new QueryCoalescer(async () => {
    throw new Error('worker died');
  }, () => 1);
  const q = (): Promise<PartAnswer> => c.submit(target, new Float32Array(DIM), 1, {});
  const results = await Promise.allSettled([q(), q(), q()]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
});
