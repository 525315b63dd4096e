/**
 * One thread of the concurrent bare-usearch baseline (hotvec.ts, `timeBareUsearch`): views
 * the same graph files and runs the same searches as the single-threaded baseline, then waits
 * at a barrier so that every thread searches at the same time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { I8Quantizer } from '../../src/graph/quantize.js';
import type { IndexSettings } from '../../src/vector-index/settings.js';
import { bareSearch } from './bare-search.js';

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
const search = bareSearch(job.files, job.dim, job.settings, job.ef, job.k, job.quantizer);
for (const q of job.queries.slice(0, 50)) search(q);
Atomics.add(job.barrier, 0, 1);
Atomics.notify(job.barrier, 0);
Atomics.wait(job.barrier, 1, 0);
for (const q of job.queries) search(q);
parentPort!.postMessage('done');
