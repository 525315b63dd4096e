/**
 * Query coalescing: queries submitted in one event-loop turn for the same view and options
 * travel in at most `parts` tasks, queries that arrive while every worker is busy wait and then
 * travel together (a batch split over all workers), each caller gets exactly its own rows back,
 * different options never share a task, and a failed task — or a runner that throws — fails
 * every caller in it and frees its worker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueryCoalescer, type PartAnswer } from '../../src/pool/coalescer.js';
import type { CollectionTarget } from '../../src/vector-index/collection.js';
import type { SearchOptions } from '../../src/vector-index/scan.js';

const DIM = 3;
const target: CollectionTarget = { dimension: DIM, metric: 'l2', settings: { m: 16, efConstruction: 100, efSearch: 100, storage: 'f32' }, segments: [], directory: { offset: 0, bytes: 256, serial: 1 } };

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

/** A part runner whose tasks finish only when the test says so. */
function gated(): { calls: { rows: number; k: number; since: number }[]; finish: (i: number) => void; run: (t: CollectionTarget, q: Float32Array, k: number, o: SearchOptions, since: number) => Promise<PartAnswer> } {
  const calls: { rows: number; k: number; since: number }[] = [];
  const gates: (() => void)[] = [];
  return {
    calls,
    finish: (i) => gates[i]!(),
    run: (_t, q, k, _o, since) => {
      const rows = q.length / DIM;
      calls.push({ rows, k, since });
      const refs = new Float64Array(rows * k);
      for (let r = 0; r < rows; r++) for (let i = 0; i < k; i++) refs[r * k + i] = q[r * DIM]! * 10 + i;
      return new Promise((resolve) => gates.push(() => resolve({ refs, distances: new Float32Array(rows * k), runSeconds: 0.001 })));
    },
  };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('queries that arrive while every worker is busy wait, then travel together in one task to the worker that frees up', async () => {
  const g = gated();
  const c = new QueryCoalescer(g.run, () => 1);
  const one = (x: number): Float32Array => Float32Array.from([x, 0, 0]);
  const first = c.submit(target, one(1), 2, {});
  await turn();
  assert.equal(g.calls.length, 1);
  const beforeWaiting = performance.now();
  const later = [2, 3, 4, 5].map((x) => c.submit(target, one(x), 2, {}));
  await turn();
  await turn();
  assert.equal(g.calls.length, 1, 'nothing more is sent while the only worker is busy');
  assert.equal(c.waiting, 4);
  g.finish(0);
  assert.deepEqual([...(await first).refs], [10, 11]);
  await turn();
  assert.equal(g.calls.length, 2);
  assert.equal(g.calls[1]!.rows, 4, 'the four waiting queries in one task');
  assert.ok(g.calls[1]!.since >= beforeWaiting && g.calls[1]!.since <= performance.now(), 'the wait counts from when the oldest began to wait');
  assert.equal(c.waiting, 0);
  g.finish(1);
  const answers = await Promise.all(later);
  answers.forEach((a, i) => assert.deepEqual([...a.refs], [(i + 2) * 10, (i + 2) * 10 + 1]));
});

test('waiting groups of different views go out in the order they began to wait', async () => {
  const g = gated();
  const c = new QueryCoalescer(g.run, () => 1);
  const other: CollectionTarget = { ...target, segments: [] };
  const one = (x: number): Float32Array => Float32Array.from([x, 0, 0]);
  const busy = c.submit(target, one(1), 2, {});
  await turn();
  // Waiting: view A k 3, then view B k 4, then view A k 5 (A's second group is the newest).
  const asks = [c.submit(target, one(2), 3, {}), c.submit(other, one(3), 4, {}), c.submit(target, one(4), 5, {})];
  await turn();
  for (let i = 0; i < 4; i++) {
    g.finish(i);
    await (i === 0 ? busy : asks[i - 1]);
    await turn();
  }
  assert.deepEqual(g.calls.map((x) => x.k), [2, 3, 4, 5]);
});

test('waiting groups go out oldest first, one per free worker, and a failure frees its worker', async () => {
  const g = gated();
  const c = new QueryCoalescer((t, q, k, o, since) => (k === 6 ? Promise.reject(new Error('worker died')) : g.run(t, q, k, o, since)), () => 2);
  const one = (x: number): Float32Array => Float32Array.from([x, 0, 0]);
  const busy = [c.submit(target, one(1), 2, {}), c.submit(target, one(2), 5, {})];
  await turn();
  assert.deepEqual(g.calls.map((x) => x.k), [2, 5], 'two groups, two free workers');
  const a = c.submit(target, one(3), 3, {});
  const b = c.submit(target, one(4), 4, {});
  await turn();
  assert.equal(g.calls.length, 2);
  g.finish(0);
  await busy[0];
  await turn();
  assert.deepEqual(g.calls.map((x) => x.k), [2, 5, 3], 'the oldest waiting group takes the freed worker');
  const c2 = c.submit(target, one(5), 6, {});
  g.finish(1);
  await busy[1];
  await turn();
  // k 4 went out on the freed worker; k 6 waits for the next one.
  assert.deepEqual(g.calls.map((x) => x.k), [2, 5, 3, 4]);
  g.finish(2);
  await a;
  await assert.rejects(c2, /worker died/, 'k 6 went out once a worker freed up, and failed');
  const after = c.submit(target, one(7), 2, {});
  await turn();
  assert.equal(g.calls.length, 5, 'the failed task freed its worker');
  g.finish(3);
  g.finish(4);
  await Promise.all([b, after]);
});

test('a batch that arrives while every worker is busy is split over all workers: one part to the worker that frees up, the rest to the next ones, ahead of later queries', async () => {
  const g = gated();
  const c = new QueryCoalescer(g.run, () => 2);
  const one = (x: number): Float32Array => Float32Array.from([x, 0, 0]);
  const busy = [c.submit(target, one(1), 2, {}), c.submit(target, one(2), 3, {})];
  await turn();
  const batch = new Float32Array(8 * DIM);
  for (let r = 0; r < 8; r++) batch[r * DIM] = 10 + r;
  const big = c.submit(target, batch, 2, {});
  await turn();
  assert.equal(c.waiting, 8);
  g.finish(0);
  await busy[0];
  await turn();
  assert.deepEqual(g.calls.map((x) => x.rows), [1, 1, 4], 'half the batch to the freed worker');
  const later = c.submit(target, one(99), 2, {});
  await turn();
  g.finish(1);
  await busy[1];
  await turn();
  assert.deepEqual(g.calls.map((x) => x.rows), [1, 1, 4, 4], 'the other half before the later query');
  g.finish(2);
  g.finish(3);
  const got = await big;
  assert.deepEqual([...got.refs], Array.from({ length: 8 }, (_, r) => [(10 + r) * 10, (10 + r) * 10 + 1]).flat());
  await turn();
  g.finish(4);
  assert.deepEqual([...(await later).refs], [990, 991]);
});

test('a part runner that throws synchronously fails its callers and frees its worker', async () => {
  const c = new QueryCoalescer((_t, q, k) => {
    if (k === 7) throw new Error('no task');
    return Promise.resolve({ refs: new Float64Array((q.length / DIM) * k), distances: new Float32Array((q.length / DIM) * k), runSeconds: 0 });
  }, () => 1);
  await assert.rejects(c.submit(target, new Float32Array(DIM), 7, {}), /no task/);
  const after = await c.submit(target, new Float32Array(DIM), 2, {});
  assert.equal(after.refs.length, 2, 'the only worker is free again');
  assert.equal(c.waiting, 0);
});

test('a part that fails rejects its callers only once the other parts have finished (they still hold the view)', async () => {
  const gates: (() => void)[] = [];
  let calls = 0;
  const c = new QueryCoalescer(
    (_t, q, k) => {
      if (calls++ === 0) return Promise.reject(new Error('worker died'));
      return new Promise((resolve) => gates.push(() => resolve({ refs: new Float64Array((q.length / DIM) * k), distances: new Float32Array((q.length / DIM) * k), runSeconds: 0.001 })));
    },
    () => 2,
  );
  let settled = false;
  const answer = c.submit(target, new Float32Array(2 * DIM), 1, {}).finally(() => (settled = true));
  for (let i = 0; i < 5; i++) await turn();
  assert.equal(calls, 2, 'split over both workers');
  assert.equal(settled, false, 'not before the other part finished');
  gates[0]!();
  await assert.rejects(answer, /worker died/);
});
