/**
 * One thread of the concurrent bare-usearch baseline (hotvec.ts, `bareUsearchParallel`): views
 * the same graph files and runs the same searches as the single-threaded baseline, then waits
 * at a barrier so that every thread searches at the same time.
 */
import { parentPort, workerData } from 'node:worker_threads';
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
}

const job = workerData as BareJob;
const views = job.files.map((f) => {
  const v = newIndex(job.dim, 'l2', job.settings, job.ef);
  v.view(f);
  return v;
});
for (const q of job.queries.slice(0, 50)) for (const v of views) v.search(q, job.k, 1);
Atomics.add(job.barrier, 0, 1);
Atomics.notify(job.barrier, 0);
Atomics.wait(job.barrier, 1, 0);
for (const q of job.queries) for (const v of views) v.search(q, job.k, 1);
parentPort!.postMessage('done');
