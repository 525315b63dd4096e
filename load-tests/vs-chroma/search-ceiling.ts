/**
 * The search ceiling of the benchmark: the transport floor (transport-floor.ts) and the bare
 * search (bare-search.ts) together, with no hand-off between threads. As many threads as hotvec
 * has query workers each run their own uWS app on one port (SO_REUSEPORT: the kernel spreads the
 * connections over them) and answer each query inline: hotvec's body reader and JSON scan, one
 * search of each graph file as the bare baseline makes it, the k nearest candidates answered in
 * hotvec's shape (ids made up from the graphs' keys). None of the validation, cache, id lookup, exact re-rank, metrics or dispatch.
 * It is not a product path: it is what this machine gives the same search over the same HTTP
 * JSON transport when nothing else is done and no thread waits for another — the rate hotvec's
 * own design could at best approach under the same load, measured in the same run.
 *
 *   node dist/load-tests/vs-chroma/search-ceiling.js JOB_JSON
 *
 * JOB_JSON: a CeilingJob (floor.ts). POST /query answers a query; GET /thread says which thread
 * took the connection (0 to threads − 1). Prints `{"port": N}` once every
 * thread listens. Stops on SIGTERM (by SIGKILL of itself: a Node worker thread with a live uWS
 * app cannot be stopped cleanly — its event loop still holds uWS's handles).
 */
import { createServer } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { BodyBuffers } from '../../src/server/body-buffers.js';
import { readDecoded, ResponseState } from '../../src/server/http.js';
import { loadUws } from '../../src/server/uws.js';
import { Float32Rows } from '../../src/service/float32-rows.js';
import { bareSearch } from './bare-search.js';
import type { CeilingJob as Job } from './floor.js';


/** A port free a moment ago (uWS sets SO_REUSEPORT only for a port it is given, not for port 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startThreads(job: Job): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const workers = Array.from({ length: job.threads }, (_, index) => new Worker(new URL(import.meta.url), { workerData: { job, port, index } }));
    const listening = await Promise.all(workers.map((w) => new Promise<boolean>((resolve, reject) => w.once('message', resolve).once('error', reject))));
    if (listening.every(Boolean)) return port;
    // Another process took the port in between: every thread's event loop holds uWS handles, so
    // the failed attempt's threads are left idle rather than terminated (see the header).
    if (attempt === 5) throw new Error(`search ceiling: no port all ${job.threads} threads could listen on`);
  }
}

function serve(job: Job, port: number, index: number): void {
  const { uws } = loadUws();
  const search = bareSearch(job.files, job.dim, job.settings, job.ef, job.candidates);
  const buffers = new BodyBuffers();
  const app = uws.App();
  app.post('/query', (res, req) => {
    const state = new ResponseState(res);
    const length = Number(req.getHeader('content-length'));
    readDecoded(state, 64 << 20, length, 'json', buffers).then(
      (decoded) => {
        const rows = (decoded as { embeddings?: unknown }).embeddings;
        if (!(rows instanceof Float32Rows) || rows.rowLengths.length !== 1 || rows.rowLengths[0] !== job.dim) {
          state.send(400, '{"error":"expected one embedding of the dimension"}', 'application/json');
          return;
        }
        // The k nearest of every graph's candidates.
        const all: { key: number; distance: number }[] = [];
        for (const hits of search(rows.values)) for (let i = 0; i < hits.keys.length; i++) all.push({ key: Number(hits.keys[i]), distance: hits.distances[i]! });
        all.sort((a, b) => a.distance - b.distance);
        if (all.length > job.k) all.length = job.k;
        state.sendValue(200, { ids: [all.map((h) => `id-${h.key}`)], distances: [all.map((h) => h.distance)] }, 'json');
      },
      (err: unknown) => state.send(413, JSON.stringify({ error: String(err) }), 'application/json', true),
    );
  });
  // Which thread took the connection (tests: the kernel spreads connections over every thread).
  app.get('/thread', (res) => void res.end(String(index)));
  app.listen('127.0.0.1', port, (socket) => parentPort!.postMessage(Boolean(socket)));
}

if (isMainThread) {
  if (process.argv[2] === undefined) {
    console.error('usage: search-ceiling JOB_JSON');
    process.exit(2);
  }
  const job = JSON.parse(process.argv[2]) as Job;
  const port = await startThreads(job);
  console.log(JSON.stringify({ port }));
  process.once('SIGTERM', () => process.kill(process.pid, 'SIGKILL'));
} else {
  const { job, port, index } = workerData as { job: Job; port: number; index: number };
  serve(job, port, index);
}
