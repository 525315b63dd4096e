/**
 * LoadedWorkers, the wait of a pool's close() until every live worker has loaded its module,
 * over a real Piscina with a worker that tells it has loaded, or never does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BroadcastChannel, Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { LoadedWorkers } from '../../src/pool/loaded-workers.js';
import type { LoadingWorkerInit } from '../fixtures/loading-worker.js';
import { until } from '../helpers/wait.js';

function pool(loaded: LoadedWorkers, silent: boolean, threads: number): Piscina<number, number> {
  const workerData: LoadingWorkerInit = { loadedChannel: loaded.channel, silent };
  const piscina = new Piscina<number, number>({ filename: new URL('../fixtures/loading-worker.js', import.meta.url).href, minThreads: threads, maxThreads: threads, workerData });
  loaded.watch(piscina);
  return piscina;
}

test('wait() resolves once every live worker has told it loaded: none still loading', async () => {
  const told: number[] = [];
  const loaded = new LoadedWorkers((m) => told.push(m.threadId));
  const piscina = pool(loaded, false, 2);
  try {
    assert.equal(loaded.count, 0, 'nothing told yet in the same turn');
    assert.equal(await loaded.wait(120_000), 0);
    assert.equal(loaded.count, 2);
    assert.deepEqual([...told].sort((a, b) => a - b), piscina.threads.map((t) => t.threadId).sort((a, b) => a - b), 'each worker told once, with its thread id');
  } finally {
    await piscina.destroy();
  }
});

test('wait(ms) on a worker that never tells gives up after about ms and says how many were still loading', async () => {
  const loaded = new LoadedWorkers();
  const piscina = pool(loaded, true, 1);
  try {
    // Once it has answered, the worker has loaded (and may be terminated safely); it just never tells.
    assert.equal(await piscina.run(7), 7);
    const started = performance.now();
    const stillLoading = await loaded.wait(300);
    const waited = performance.now() - started;
    assert.equal(stillLoading, 1);
    assert.ok(waited >= 290 && waited < 10_000, `waited ${waited} ms`);
    assert.equal(loaded.count, 0);
  } finally {
    await piscina.destroy();
  }
});

test('a worker tells it loaded only once the synchronous job that required its module has ended (terminating it before aborts Node 20)', async () => {
  const loaded = new LoadedWorkers();
  const done = new Int32Array(new SharedArrayBuffer(4));
  let timer: NodeJS.Timeout | undefined;
  const seen = new Promise<number | 'never'>((resolve) => {
    const channel = new BroadcastChannel(loaded.channel);
    channel.onmessage = () => {
      resolve(Atomics.load(done, 0));
      channel.close();
    };
    timer = setTimeout(() => {
      channel.close();
      resolve('never');
    }, 30_000);
  });
  // CommonJS, as Piscina's worker: require() the module, then go on for 300 ms, then set done.
  const loader = `const { workerData } = require('node:worker_threads');
    require(workerData.module);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    Atomics.store(workerData.done, 0, 1);`;
  const module = fileURLToPath(new URL('../fixtures/late-report-worker.js', import.meta.url));
  const worker = new Worker(loader, { eval: true, workerData: { loadedChannel: loaded.channel, done, module } });
  try {
    assert.equal(await seen, 1, 'the report came after the job that required the module');
  } finally {
    clearTimeout(timer);
    await worker.terminate();
    await loaded.wait(0);
  }
});

test('settle() waits as wait() does but keeps listening: a worker started after it is still heard', async () => {
  const loaded = new LoadedWorkers();
  const workerData: LoadingWorkerInit = { loadedChannel: loaded.channel, silent: false };
  const piscina = new Piscina<number, number>({ filename: new URL('../fixtures/loading-worker.js', import.meta.url).href, minThreads: 1, maxThreads: 1, workerData });
  loaded.watch(piscina);
  try {
    assert.equal(await loaded.settle(120_000), 0);
    assert.equal(loaded.count, 1);
    // The thread ends; Piscina starts another (minThreads).
    const first = piscina.threads[0]!.threadId;
    await piscina.threads[0]!.terminate();
    assert.ok(await until(() => piscina.threads.length === 1 && piscina.threads[0]!.threadId !== first, 30_000, 10), 'a new thread');
    assert.equal(await loaded.wait(30_000), 0, 'the new thread was heard');
    assert.equal(loaded.count, 2);
  } finally {
    await piscina.destroy();
  }
});
