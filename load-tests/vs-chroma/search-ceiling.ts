/**
 * The search ceiling of the benchmark: the transport floor (transport-floor.ts) and the bare
 * search (bare-search.ts) together, with no hand-off between threads. As many threads as hotvec
 * has query workers each run their own uWS app on one port (SO_REUSEPORT: the kernel spreads the
 * connections over them) and answer each query inline: hotvec's body reader and JSON scan, one
 * search of each graph file as the bare baseline makes it (an i8 graph's query quantised alike),
 * the k nearest candidates answered in hotvec's shape (ids made up from the graphs' keys).
 *
 * It is not a product path and not a rate hotvec can reach: none of the validation, cache, id
 * lookup, exact re-rank, metrics or dispatch is done, and the body's `k` is not read. It is what
 * this machine gives the same search over the same HTTP JSON transport when nothing else is done
 * and no thread waits for another — an upper bound for any server design under the same load,
 * measured in the same run.
 *
 *   node dist/load-tests/vs-chroma/search-ceiling.js JOB_JSON
 *
 * JOB_JSON: a CeilingJob. POST /query answers a query; GET /thread says which thread took the
 * connection (0 to threads − 1). Prints `{"port": N}` once every thread listens. Stops on SIGTERM,
 * and on any failure, by SIGKILL of itself: a Node worker thread with a live uWS app cannot be
 * stopped cleanly (its event loop still holds uWS's handles; Node aborts waiting for them).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { freePort } from '../../src/platform/free-port.js';
import { loadUws } from '../../src/server/uws.js';
import type { IndexSettings } from '../../src/vector-index/settings.js';
import { bareSearch } from './bare-search.js';
import { queryRoute } from './reference-route.js';

export interface CeilingJob {
  dim: number;
  k: number;
  ef: number;
  /** Candidates asked of each graph (as hotvec asks). */
  candidates: number;
  /** As many as hotvec's query workers. */
  threads: number;
  settings: IndexSettings;
  /** hotvec's graph files, searched as the bare baseline searches them. */
  files: string[];
  /** i8 graphs: how the queries are quantised (as the bare baseline quantises them). */
  quantizer?: { scale: number; offset: number[] };
}

interface ThreadData {
  job: CeilingJob;
  port: number;
  index: number;
}

/** Starts every thread on one port; resolves the port. */
async function startThreads(job: CeilingJob): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    // uWS sets SO_REUSEPORT only on a port it is given (not on port 0): take one free a moment ago.
    // Another process may bind it in between: without SO_REUSEPORT every thread's listen fails
    // and the next attempt takes another port (the failed attempt's threads, listening nowhere,
    // stay idle until the process is killed); another uWS server's SO_REUSEPORT listener on it
    // would silently share the connections — a window of a few milliseconds, accepted here.
    const port = await freePort();
    const listening = await Promise.all(
      Array.from({ length: job.threads }, (_, index) => {
        const worker = new Worker(new URL(import.meta.url), { workerData: { job, port, index } satisfies ThreadData });
        return new Promise<boolean>((resolve, reject) => {
          worker.once('message', resolve).once('error', reject);
          worker.once('exit', (code) => reject(new Error(`search ceiling: thread ${index} exited (${code}) before listening`)));
        });
      }),
    );
    if (listening.every(Boolean)) return port;
    if (attempt === 5) throw new Error(`search ceiling: no port all ${job.threads} threads could listen on`);
  }
}

function serve({ job, port, index }: ThreadData): void {
  const { uws } = loadUws();
  const quantizer = job.quantizer && { scale: job.quantizer.scale, offset: Float32Array.from(job.quantizer.offset) };
  const search = bareSearch(job.files, job.dim, job.settings, job.ef, job.candidates, quantizer);
  const app = uws.App();
  queryRoute(app, '/query', job.dim, (query) => {
    // The k nearest of every graph's candidates.
    const all: { key: number; distance: number }[] = [];
    for (const hits of search(query)) for (let i = 0; i < hits.keys.length; i++) all.push({ key: Number(hits.keys[i]), distance: hits.distances[i]! });
    all.sort((a, b) => a.distance - b.distance);
    if (all.length > job.k) all.length = job.k;
    return { ids: all.map((h) => `id-${h.key}`), distances: all.map((h) => h.distance) };
  });
  app.get('/thread', (res) => void res.end(String(index)));
  app.listen('127.0.0.1', port, (socket) => parentPort!.postMessage(Boolean(socket)));
}

const die = (): void => void process.kill(process.pid, 'SIGKILL');

if (isMainThread) {
  if (process.argv[2] === undefined) {
    console.error('usage: search-ceiling JOB_JSON');
    process.exit(2);
  }
  try {
    const port = await startThreads(JSON.parse(process.argv[2]) as CeilingJob);
    console.log(JSON.stringify({ port }));
    process.once('SIGTERM', die);
  } catch (err) {
    console.error(err);
    die();
  }
} else {
  serve(workerData as ThreadData);
}
