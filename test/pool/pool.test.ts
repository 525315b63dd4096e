/**
 * Worker threads reading the shared arena: results match an in-thread scan, writes made on
 * the main thread after a task is queued are visible to it, growth of the memory is seen by
 * workers, and vectors never travel to the workers (only offsets do).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { SchedPolicy, chrtPath, threadPolicy } from '../../src/platform/priority.js';
import { QueryPool, scratchSlotsFor } from '../../src/pool/pool.js';
import { readdirSync } from 'node:fs';
import { EPOCH_IDLE } from '../../src/vector-index/layout.js';
import { ReaderEpochs } from '../../src/vector-index/reader-epochs.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { randomVectors } from '../helpers/hotvec.js';
import { bruteForce, sameNeighbours } from '../helpers/reference.js';
import { until } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const index = new VectorIndex({ maxBytes: 1024 * MiB, maxDimension: 128, scratchSlots: scratchSlotsFor(2) });
const pool = new QueryPool({ memory: index.arena.memory, scratch: index.arena.scratch, workers: 2, maxQueue: 1000 });

after(() => pool.close());

async function query(name: string, q: number[][], k: number): Promise<{ ids: string[]; distances: number[] }[]> {
  const store = index.require(name);
  const epoch = index.reclaimer.enter();
  try {
    const view = store.searchView();
    const r = await pool.search(view.target, new Float32Array(q.flat()), k);
    return q.map((_, i) => {
      const ids: string[] = [];
      const distances: number[] = [];
      for (let j = i * k; j < (i + 1) * k && r.refs[j]! >= 0; j++) {
        ids.push(store.resolve(view, r.refs[j]!)!.id);
        distances.push(r.distances[j]!);
      }
      return { ids, distances };
    });
  } finally {
    index.reclaimer.exit(epoch);
  }
}

test('workers answer exactly over the shared memory, and see every write made before dispatch', async () => {
  const dim = 64;
  index.apply({ t: 'create', seq: 1, collection: 'p', dimension: dim, metric: 'l2' });
  const model = new Map<string, number[]>();
  const queries = randomVectors(4, dim, 99);
  for (let round = 0; round < 6; round++) {
    // Each round grows the collection (new chunks, memory growth) then queries from both workers at once.
    const vecs = randomVectors(1500, dim, round);
    const ids = vecs.map((_, i) => `r${round}-${i}`);
    index.apply({ t: 'upsert', seq: 2 + round, collection: 'p', ids, embeddings: new Float32Array(vecs.flat()) });
    ids.forEach((id, i) => model.set(id, vecs[i]!));
    const answers = await Promise.all([query('p', queries, 10), query('p', queries, 10)]);
    for (const rows of answers) {
      rows.forEach((row, i) => assert.equal(sameNeighbours(row, bruteForce('l2', model, queries[i]!, 10)), null, `round ${round} query ${i}`));
    }
  }
  assert.ok(index.arena.sharedBytes > 9000 * dim * 4, 'the arena grew while workers were attached');
});

test('a record written right after another query was queued is seen by the next query', async () => {
  index.apply({ t: 'create', seq: 10, collection: 'ryw', dimension: 3, metric: 'l2' });
  for (let i = 0; i < 50; i++) {
    const v = [i, i + 1, i + 2];
    const pending = query('ryw', [v], 1);
    index.apply({ t: 'upsert', seq: 11 + i, collection: 'ryw', ids: [`x${i}`], embeddings: new Float32Array(v) });
    const [row] = await query('ryw', [v], 1);
    assert.deepEqual(row!.ids, [`x${i}`]);
    await pending;
  }
});

test('closing the pool answers the queries still waiting for a worker with NOT_READY; the running one finishes', async () => {
  const small = new QueryPool({ memory: index.arena.memory, scratch: index.arena.scratch, workers: 1, maxQueue: 100 });
  const store = index.require('p');
  // Different k: five groups, one worker — the first runs, four wait in the coalescer.
  const settled = Promise.allSettled([1, 2, 3, 4, 5].map((k) => small.search(store.searchView().target, new Float32Array(64), k)));
  await new Promise((resolve) => setImmediate(resolve));
  await small.close();
  const results = await settled;
  assert.equal(results[0]!.status, 'fulfilled');
  for (const r of results.slice(1)) {
    assert.equal(r.status, 'rejected');
    assert.equal((r as PromiseRejectedResult).reason.code, 'HOTVEC_NOT_READY');
  }
});

test('overload: a full queue answers OVERLOADED instead of queueing without bound', async () => {
  const small = new QueryPool({ memory: index.arena.memory, scratch: index.arena.scratch, workers: 1, maxQueue: 1 });
  try {
    const store = index.require('p');
    const q = () => small.search(store.searchView().target, new Float32Array(64), 10);
    const results = await Promise.allSettled(Array.from({ length: 20 }, q));
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.ok(rejected.length > 0, 'some were refused');
    for (const r of rejected) assert.equal((r as PromiseRejectedResult).reason.code, 'HOTVEC_OVERLOADED');
  } finally {
    await small.close();
  }
});


/** Kernel ids of this process's threads and their scheduling policies. */
const policies = (): Map<string, number | undefined> => new Map(readdirSync('/proc/self/task').map((tid) => [tid, threadPolicy(Number(tid))]));
const chrt = chrtPath() !== undefined;

test('workers run under SCHED_BATCH when asked (Linux), and only then', { skip: !(process.platform === 'linux' && chrt) && 'needs Linux and util-linux chrt' }, async (t) => {
  // The module's pool (schedBatch not set) has started its workers by now: one answered this.
  const dim = 8;
  index.apply({ t: 'create', seq: 1000, collection: 'sched', dimension: dim, metric: 'l2' });
  index.apply({ t: 'upsert', seq: 1001, collection: 'sched', ids: ['a'], embeddings: new Float32Array(dim) });
  await query('sched', [Array.from({ length: dim }, () => 0)], 1);
  const before = policies();
  if ([...before.values()].some((p) => p !== SchedPolicy.OTHER)) {
    t.skip('the tests run under another policy than the normal one: nothing to tell apart');
    return;
  }
  const reports: { threadId: number; schedBatch: boolean }[] = [];
  const batch = new QueryPool({ memory: index.arena.memory, scratch: index.arena.scratch, workers: 2, maxQueue: 100, schedBatch: true, onWorkerLoaded: (l) => reports.push(l) });
  try {
    const newBatch = (): number => [...policies()].filter(([tid, p]) => !before.has(tid) && p === SchedPolicy.BATCH).length;
    // Each worker sets its policy as it starts; Piscina starts them at once (minThreads).
    await until(() => newBatch() >= 2, 5000);
    assert.equal(newBatch(), 2, 'both workers of the pool that asked');
    for (const [tid, p] of policies()) if (before.has(tid)) assert.equal(p, SchedPolicy.OTHER, `thread ${tid} (not of that pool) is untouched`);
    await until(() => reports.length >= 2, 5000);
    assert.deepEqual(reports.map((r) => r.schedBatch), [true, true], 'each worker tells the policy took effect');
  } finally {
    await batch.close();
  }
});

test('a pool closed right after it was made waits until every worker has loaded its module, then stops them', async () => {
  // Terminating a worker while Node instantiates its ES module can abort the process; closing at
  // once is what a server stopped just after its start does.
  // An arena of its own: workers keep their scratch slot for life, and the other pools here took the module's.
  const own = new VectorIndex({ maxBytes: 64 * MiB, maxDimension: 8, scratchSlots: scratchSlotsFor(2) });
  const quick = new QueryPool({ memory: own.arena.memory, scratch: own.arena.scratch, workers: 2, maxQueue: 100 });
  assert.equal(quick.loadedWorkers, 0, 'nothing loaded yet in the same turn');
  await quick.close();
  assert.equal(quick.loadedWorkers, 2);
  assert.equal(quick.threads, 0, 'and the workers are gone');
});

test('close() waits for a worker respawned just before it, and stops it only once it has loaded', async () => {
  const own = new VectorIndex({ maxBytes: 64 * MiB, maxDimension: 8, scratchSlots: scratchSlotsFor(2) });
  const reports: boolean[] = [];
  const respawning = new QueryPool({ memory: own.arena.memory, scratch: own.arena.scratch, workers: 2, maxQueue: 100, onWorkerLoaded: (l) => reports.push(l.schedBatch) });
  try {
    await until(() => respawning.loadedWorkers >= 2, 10_000);
    assert.equal(respawning.loadedWorkers, 2, 'both workers loaded');
    const [first] = respawning.workerThreads;
    await first!.terminate(); // Piscina replaces it in its exit handler, which runs before this resumes
    assert.equal(respawning.threads, 2, 'a replacement is starting');
    assert.ok(!respawning.workerThreads.includes(first!));
  } finally {
    await respawning.close();
  }
  assert.equal(respawning.loadedWorkers, 3, 'the replacement had loaded before close() stopped it');
  assert.deepEqual(reports, [false, false, false], 'a pool that did not ask for SCHED_BATCH: every worker tells it runs without');
  assert.equal(respawning.threads, 0);
});

test('close() does not wait for a worker that failed at start', async () => {
  // One scratch slot for two workers: the other one finds none and fails, and so does the one
  // Piscina starts in its place (after which it starts no more).
  const own = new VectorIndex({ maxBytes: 64 * MiB, maxDimension: 8, scratchSlots: 1 });
  const errors: Error[] = [];
  // Were close() to wait for the failed worker, it would wait the whole loadWaitMs, two minutes.
  const failing = new QueryPool({ memory: own.arena.memory, scratch: own.arena.scratch, workers: 2, maxQueue: 100, loadWaitMs: 120_000, onWorkerError: (e) => errors.push(e) });
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    failing.close().then(() => 'closed' as const),
    new Promise<'waiting'>((r) => (timer = setTimeout(() => r('waiting'), 30_000))),
  ]);
  clearTimeout(timer);
  assert.equal(closed, 'closed', 'close() waited for a worker that is gone');
  assert.equal(failing.close(), failing.close(), 'close() is idempotent: the same promise');
  assert.equal(failing.loadedWorkers, 1, 'the worker with a slot loaded');
  assert.ok(errors.length >= 1 && errors.every((e) => /no free scratch slot/.test(e.message)), errors.map((e) => e.message).join('\n'));
  assert.equal(failing.threads, 0);
});

test('a worker that is gone while pinned has its reader-epoch word cleared, so it holds no retirement for good', async () => {
  const own = new VectorIndex({ maxBytes: 64 * MiB, maxDimension: 8, scratchSlots: scratchSlotsFor(2) });
  const slots = new Map<number, number>();
  const p = new QueryPool({ memory: own.arena.memory, scratch: own.arena.scratch, workers: 2, maxQueue: 100, onWorkerLoaded: (l) => slots.set(l.threadId, l.slot) });
  try {
    await until(() => slots.size >= 2, 10_000);
    const [first] = p.workerThreads;
    const slot = slots.get(first!.threadId)!;
    assert.ok(Number.isInteger(slot) && slot >= 0 && slot < own.arena.scratch.slots, `slot ${slot}`);
    assert.equal(new Set(slots.values()).size, 2, 'each worker its own slot');
    // As if it died in the middle of a search: pinned, then gone.
    const epochs = new ReaderEpochs(own.arena.memory);
    epochs.pin(slot);
    let freed = false;
    own.reclaimer.retire(() => (freed = true));
    assert.equal(freed, false);
    await first!.terminate();
    await until(() => freed, 10_000);
    assert.equal(epochs.pinnedAt(slot), EPOCH_IDLE);
  } finally {
    await p.close();
  }
});

test('a worker pins its epoch while it searches: a retirement made meanwhile waits for the search, even with no main-thread reader', async (t) => {
  const own = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 64, scratchSlots: scratchSlotsFor(1) });
  const p = new QueryPool({ memory: own.arena.memory, scratch: own.arena.scratch, workers: 1, maxQueue: 1000 });
  try {
    own.apply({ t: 'create', seq: 1, collection: 'long', dimension: 64, metric: 'l2' });
    const n = 100_000;
    for (let from = 0; from < n; from += 10_000) {
      own.apply({ t: 'upsert', seq: 2, collection: 'long', ids: Array.from({ length: 10_000 }, (_, i) => `r${from + i}`), embeddings: new Float32Array(10_000 * 64).map((_, i) => (i * 7919) % 13) });
    }
    const epochs = new ReaderEpochs(own.arena.memory);
    const pinned = (): boolean => Array.from({ length: own.arena.scratch.slots }, (_, i) => epochs.pinnedAt(i)).some((e) => e !== EPOCH_IDLE);
    assert.equal(pinned(), false);
    // An exact scan of 64 queries over 100,000 × 64 (hundreds of ms), and no reclaimer.enter() here.
    const search = p.search(own.require('long').searchView().target, new Float32Array(64 * 64).fill(1), 10, { exact: true });
    let settled = false;
    const started = performance.now();
    void search.finally(() => (settled = true)).catch(() => {});
    while (!pinned() && !settled) await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, 'a word pinned while the worker searched');
    let freed = false;
    own.reclaimer.retire(() => (freed = true));
    assert.equal(freed, false, 'held by the searching worker');
    const answer = await search;
    assert.equal(answer.refs.length, 64 * 10);
    t.diagnostic(`search took ${(performance.now() - started).toFixed(0)} ms`);
    await until(() => freed, 10_000);
    assert.equal(freed, true, 'released once the worker unpinned');
  } finally {
    await p.close();
  }
});

test('a task naming a directory entry that is not there any more fails clearly, and the worker goes on answering', async () => {
  index.apply({ t: 'create', seq: 2000, collection: 'stale', dimension: 4, metric: 'l2' });
  index.apply({ t: 'upsert', seq: 2001, collection: 'stale', ids: ['s1'], embeddings: new Float32Array([1, 2, 3, 4]) });
  const store = index.require('stale');
  const view = store.searchView();
  const stale = { ...view.target, directory: { ...view.target.directory, serial: view.target.directory.serial + 1 } };
  await assert.rejects(pool.search(stale, new Float32Array(4), 1), /has serial .*freed while still in use/);
  const ok = await pool.search(view.target, new Float32Array([1, 2, 3, 4]), 1);
  assert.equal(store.resolve(view, ok.refs[0]!)?.id, 's1');
});

test("utilisation adds the workers' time outside tasks over the pool's capacity (its time × workers), capped at 1", async () => {
  const t0 = performance.now();
  const idle = new QueryPool({ memory: index.arena.memory, scratch: index.arena.scratch, workers: 2, maxQueue: 10 });
  const t1 = performance.now();
  try {
    await new Promise((r) => setTimeout(r, 300));
    const t2 = performance.now();
    const u = idle.utilization(0.12); // 120 ms of work outside tasks
    const t3 = performance.now();
    assert.equal(idle.utilization(), 0, 'no task ran');
    // The pool's time is at least t2 − t1 and at most t3 − t0.
    assert.ok(u >= 120 / (2 * (t3 - t0)) && u <= 120 / (2 * (t2 - t1)), `${u} within [${120 / (2 * (t3 - t0))}, ${120 / (2 * (t2 - t1))}]`);
    assert.equal(idle.utilization(1e6), 1, 'capped');
  } finally {
    await idle.close();
  }
});
