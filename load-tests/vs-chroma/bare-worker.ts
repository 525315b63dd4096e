/**
 * One thread of the concurrent bare-usearch baseline (hotvec.ts, `bareUsearchParallel`): views
 * the same graph files and runs the same searches as the single-threaded baseline, then waits
 * at a barrier so that every thread searches at the same time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { quantizeI8, type I8Quantizer } from '../../src/graph/quantize.js';
import { newIndex } from '../../src/graph/usearch.js';
import type { IndexSettings } from '../../src/vector-index/settings.js';

interface BareJob {
  files: string[];
  dim: number;
  settings: IndexSettings;
  ef: number;
  k: number;
  queries: Float32Array[];
  /** [threads ready, go]: Atomics barrier shared with the parent. */
  barrier: Int32Array;
  /** i8 graphs: the queries are quantised as hotvec quantises them. */
  quantizer?: I8Quantizer;
}

const job = workerData as BareJob;
const views = job.files.map((f) => {
  const v = newIndex(job.dim, 'l2', job.settings, job.ef);
  v.view(f);
  return v;
});
const i8 = new Int8Array(job.dim);
const input = (q: Float32Array): Float32Array | Int8Array => (job.quantizer ? quantizeI8(q, job.quantizer, i8) : q);
for (const q of job.queries.slice(0, 50)) for (const v of views) v.search(input(q), job.k, 1);
Atomics.add(job.barrier, 0, 1);
Atomics.notify(job.barrier, 0);
Atomics.wait(job.barrier, 1, 0);
for (const q of job.queries) for (const v of views) v.search(input(q), job.k, 1);
parentPort!.postMessage('done');
