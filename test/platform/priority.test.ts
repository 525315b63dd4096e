/**
 * Background threads lower their own CPU priority and only their own: the nice value is per
 * thread on Linux, so the thread that calls lowerThreadPriority yields, and the thread that
 * started it (the request path) keeps its priority.
 */
import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SchedPolicy, batchThreadPolicy, chrtPath, kernelThreadId, lowerThreadPriority, threadPolicy } from '../../src/platform/priority.js';

const linux = process.platform === 'linux';
const MODULE = new URL('../../src/platform/priority.js', import.meta.url).href;

/** Runs lowerThreadPriority(nice) then (again) lowerThreadPriority(again) in a new thread. */
function inThread(nice: number, again: number): Promise<{ tid: number; first: number; second: number; seen: number }> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { getPriority } = require('node:os');
    import(workerData.module).then(({ kernelThreadId, lowerThreadPriority }) => {
      const tid = kernelThreadId();
      const first = lowerThreadPriority(workerData.nice);
      const second = lowerThreadPriority(workerData.again);
      parentPort.postMessage({ tid, first, second, seen: getPriority(tid) });
    });`;
  const worker = new Worker(code, { eval: true, workerData: { module: MODULE, nice, again } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

test('a thread lowers its own priority, never raises it back, and leaves its parent alone', { skip: !linux && 'per-thread nice values are Linux only' }, async () => {
  const mainTid = kernelThreadId();
  assert.equal(mainTid, process.pid, "the main thread's kernel id is the process id");
  const before = getPriority(mainTid);
  const r = await inThread(Math.max(before, 7), 3);
  assert.notEqual(r.tid, mainTid, 'a worker is a thread of its own');
  assert.equal(r.first, Math.max(before, 7));
  assert.equal(r.second, r.first, 'asking for a lower nice value (a higher priority) changes nothing');
  assert.equal(r.seen, r.first);
  assert.equal(getPriority(mainTid), before, "the main thread's priority is untouched");
});

test('nice values outside 0..19 are refused', () => {
  assert.throws(() => lowerThreadPriority(20), RangeError);
  assert.throws(() => lowerThreadPriority(-1), RangeError);
  assert.throws(() => lowerThreadPriority(1.5), RangeError);
});

const chrt = chrtPath() !== undefined;
const normalHere = linux && threadPolicy(kernelThreadId() ?? -1) === SchedPolicy.OTHER;

test('a thread puts itself under SCHED_BATCH, and only itself', { skip: !(linux && chrt && normalHere) && 'needs Linux, util-linux chrt, and tests run under the normal policy' }, async () => {
  const mainTid = kernelThreadId()!;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.module).then(({ kernelThreadId, batchThreadPolicy, threadPolicy }) => {
      const tid = kernelThreadId();
      const before = threadPolicy(tid);
      const done = batchThreadPolicy();
      parentPort.postMessage({ tid, before, done, after: threadPolicy(tid) });
    });`;
  const worker = new Worker(code, { eval: true, workerData: { module: MODULE } });
  const r = await new Promise<{ tid: number; before: number; done: boolean; after: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  assert.equal(r.before, SchedPolicy.OTHER);
  assert.equal(r.done, true);
  assert.equal(r.after, SchedPolicy.BATCH);
  assert.equal(threadPolicy(mainTid), SchedPolicy.OTHER, "the main thread's policy is untouched");
  assert.equal(batchThreadPolicy(), true, 'and the main thread may do it for itself too');
  assert.equal(threadPolicy(mainTid), SchedPolicy.BATCH);
});
