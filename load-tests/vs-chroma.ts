/**
 * hotvec beside Chroma, in one run, on one machine, with one dataset and one load generator.
 *
 *   npm run bench:vs-chroma -- [--n 20000] [--dim 784] [--runs 3] [--duration 10] [--connections 16]
 *                              [--ef 64] [--m 64] [--ef-construction 100] [--storage f16|f32|i8]
 *                              [--ws-batch 16]
 *
 * hotvec's collection is created with M 64, ef 64 and f16 graph storage by default: on this
 * data at 60,000 × 784, usearch with Chroma's own defaults (M 16, ef 100, f32) reaches recall@10
 * 0.990–0.994, below Chroma's in some runs (0.980–1.000), while a better connected graph reaches
 * the same recall at a smaller ef, and the search's cost follows ef: M 64 at ef 64 found every
 * true neighbour of the 200 recall queries in every build tried, for ~0.75 of the CPU of M 32
 * at ef 100 (`HOTVEC_BENCH_N=60000 npm run bench:native -- hnsw-tuning`; README, "hotvec beside
 * Chroma"). `--m 16 --ef 100 --storage f32` runs hotvec with Chroma's settings.
 *
 * 1. Generates a clustered synthetic dataset (n × dim, l2) and query sets from the same
 *    distribution.
 * 2. Loads it into a real Chroma server (its own temporary folder, through the chromadb JS
 *    client, timed), then into hotvec (started with its managed Chroma in another temporary
 *    folder; msgpack float32 upserts, acknowledged = durable, timed), and waits until hotvec's
 *    write-behind has reached its Chroma, its segments are sealed into HNSW graphs and merged,
 *    and every process is idle. While hotvec loads, one client queries it all along.
 * 3. Measures recall@10 of both against brute-force exact answers, hotvec's memory (again after the
 *    query phases, when every worker has mapped the graphs) against its
 *    raw vectors plus graph, and the bare usearch search over hotvec's own graph files.
 * 4. Per run: the same autocannon HTTP load (JSON, every request a distinct query vector) on
 *    hotvec and on Chroma, the same HTTP load and both WebSocket loads on hotvec's query port
 *    (`--query-port 0`: its workers take the connections), hotvec over WebSocket msgpack (one
 *    query per message, then `--ws-batch` per message), the HTTP transport floor (transport-floor.ts: uWS and hotvec's
 *    JSON handling without a search) and the search ceiling (search-ceiling.ts: that transport
 *    and the bare search inline in each of as many threads as hotvec has workers, no hand-off —
 *    what this machine gives the search over HTTP JSON, beside Chroma in the same run) under the
 *    same HTTP load, and each server at half its own
 *    saturated rate (evenly spaced requests through the lean client, lib/raw-http.ts; for hotvec
 *    also the share its own latency histogram put within 10 ms, and the idle Chromas' CPU
 *    meanwhile); the CPU time of each server process per query. Medians over the runs are
 *    reported.
 * 5. One sequential client (cache misses, cache hits, Chroma) and saturated cache hits.
 * 6. A graceful restart of hotvec on its data folder, timed until it answers again.
 *
 * Prints a side-by-side table and, under it, each of the issue's targets with what the run
 * measured and whether it met it (vs-chroma/targets.ts); writes
 * load-tests/results/vs-chroma-<n>x<dim>.json.
 */
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import { removeDir, startHotvec, type Hotvec } from '../test/helpers/hotvec.js';
import { ChromaUnderTest, clientFor } from './vs-chroma/chroma.js';
import { ClusteredSource, exactNeighbours, recallAtK } from './vs-chroma/data.js';
import { RawHttpClient, type RequestBody } from './lib/raw-http.js';
import { httpLoad, pacedHttpLoad, wsLoad, type LoadStats } from './vs-chroma/load.js';
import { timeBareUsearch, graphFiles, graphOnlyBytes, memoryOf, queryLatencyCounts, shareWithin, timedRestart, waitIndexed } from './vs-chroma/hotvec.js';
import { startSearchCeiling, startTransportFloor, type ReferenceServer } from './vs-chroma/reference-servers.js';
import { fitI8 } from '../src/graph/quantize.js';
import { graphCandidates } from '../src/vector-index/scan.js';
import type { StorageKind } from '../src/vector-index/settings.js';
import { cpuSeconds, threadCpuSeconds, threadSplit, waitQuiet } from './vs-chroma/proc.js';
import { sideBySide, summarize, type Measured, type Phase, type RunPhases } from './vs-chroma/summary.js';
import { checkTargets, formatTargets, isIssueSetup } from './vs-chroma/targets.js';

const { values: opt } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    dim: { type: 'string', default: '784' },
    k: { type: 'string', default: '10' },
    clusters: { type: 'string', default: '100' },
    intrinsic: { type: 'string', default: '16' },
    'recall-queries': { type: 'string', default: '200' },
    'load-queries': { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    'ws-sockets': { type: 'string', default: '4' },
    'ws-window': { type: 'string', default: '4' },
    'ws-batch': { type: 'string', default: '16' },
    sequential: { type: 'string', default: '300' },
    workers: { type: 'string', default: String(availableParallelism()) },
    fsync: { type: 'string', default: 'always' },
    batch: { type: 'string', default: '500' },
    'upsert-concurrency': { type: 'string', default: '4' },
    'chroma-batch': { type: 'string', default: '1000' },
    'chroma-concurrency': { type: 'string', default: '1' },
    'flush-timeout': { type: 'string', default: '1800' },
    ef: { type: 'string', default: '64' },
    m: { type: 'string', default: '64' },
    'ef-construction': { type: 'string', default: '100' },
    storage: { type: 'string', default: 'f16' },
  },
});
const num = (name: keyof typeof opt): number => {
  const v = Number(opt[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number, got ${opt[name]}`);
  return v;
};
const n = num('n');
const dim = num('dim');
const k = num('k');
const runs = Math.max(1, num('runs'));
const duration = num('duration');
const connections = num('connections');
const COLLECTION = 'bench';
const idOf = (i: number): string => `v${i}`;
const packr = new Packr({ useRecords: false });
const log = (msg: string): void => console.error(`[vs-chroma ${new Date().toISOString().slice(11, 19)}] ${msg}`);
const f32bytes = (v: Float32Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/**
 * Load-phase query vectors. Request c uses base query c mod Q with its first coordinate moved
 * by (round + 1) × 1e-5: every request is a distinct vector (so hotvec's cache never answers
 * it), and the answer is that of a query from the data's distribution. Round 0 (unmoved) is
 * kept for the cache-hit phases.
 *
 * The JSON of every base query but its first coordinate is prepared once, in one buffer outside
 * the V8 heap, and a request body is a few pieces pointing into it (the lean client writes them
 * as they are). With the JSON as strings on the heap (~15 MB for the default 1,000 queries of
 * 784) and each body built as a string and copied into a fresh buffer, `--trace-gc` of this process showed a
 * full mark-compact every ~0.6 s during hotvec's half-rate phase (~1,000 requests/s), each
 * pausing the client 3–12 ms while answers waited to be timed; with the pieces, none.
 */
class QueryStream {
  private readonly heads: number[];
  /** ",x1,…,xd-1]" of each base query, one after another. */
  private readonly tails: Buffer;
  private readonly tailAt: Uint32Array;

  constructor(private readonly base: Float32Array) {
    const q = base.length / dim;
    this.heads = Array.from({ length: q }, (_, i) => base[i * dim]!);
    const texts = Array.from({ length: q }, (_, i) => `,${Array.from(base.subarray(i * dim + 1, (i + 1) * dim)).join(',')}]`);
    this.tailAt = new Uint32Array(q + 1);
    texts.forEach((t, i) => (this.tailAt[i + 1] = this.tailAt[i]! + t.length));
    this.tails = Buffer.allocUnsafeSlow(this.tailAt[q]!);
    texts.forEach((t, i) => this.tails.write(t, this.tailAt[i]!, 'latin1'));
  }

  get size(): number {
    return this.heads.length;
  }

  private shift(c: number): { i: number; head: number } {
    const i = c % this.heads.length;
    return { i, head: this.heads[i]! + (Math.floor(c / this.heads.length) + 1) * 1e-5 };
  }

  private pieces(i: number, head: number, around: BodyAround): Buffer[] {
    return [around.prefix, Buffer.from(`[${head}`, 'latin1'), this.tails.subarray(this.tailAt[i], this.tailAt[i + 1]), around.suffix];
  }

  /** The body of the c-th distinct vector, in pieces (for the lean client). */
  body(c: number, around: BodyAround): Buffer[] {
    const { i, head } = this.shift(c);
    return this.pieces(i, head, around);
  }

  /** The c-th distinct vector as float32. */
  f32(c: number): Float32Array {
    const { i, head } = this.shift(c);
    const v = this.base.slice(i * dim, (i + 1) * dim);
    v[0] = head;
    return v;
  }

  /** The body of base query i, unmoved (the cache-hit phases repeat these), in pieces. */
  repeatBody(i: number, around: BodyAround): Buffer[] {
    const at = i % this.heads.length;
    return this.pieces(at, this.heads[at]!, around);
  }
}

/** The JSON of a query body before and after its vector. */
interface BodyAround {
  prefix: Buffer;
  suffix: Buffer;
}

const around = (prefix: string, suffix: string): BodyAround => ({ prefix: Buffer.from(prefix), suffix: Buffer.from(suffix) });

async function measured(pid: number, run: () => Promise<LoadStats>): Promise<Phase> {
  const c0 = cpuSeconds(pid);
  const t0 = threadCpuSeconds(pid);
  const stats = await run();
  const cpu = cpuSeconds(pid) - c0;
  const split = threadSplit(pid, t0, threadCpuSeconds(pid), num('workers'));
  const perQuery = (seconds: number): number => (seconds * 1000) / Math.max(1, stats.ok);
  return { ...stats, cpuMsPerQuery: perQuery(cpu), threads: { main: perQuery(split.main), busiest: perQuery(split.busiest), other: perQuery(split.other) } };
}

/**
 * One client, one request at a time on one kept-alive connection (the lean client, as the
 * half-rate phases use), while `more(i)` says so; the latencies in ms, sorted. A non-200 answer
 * fails the benchmark: `what` names the phase in the error.
 */
async function oneClient(url: string, body: (i: number) => RequestBody, more: (i: number) => boolean, what: string): Promise<number[]> {
  const lat: number[] = [];
  const client = new RawHttpClient(url);
  try {
    for (let i = 0; more(i); i++) {
      const b = body(i);
      const t0 = performance.now();
      const status = await client.postJson(b);
      if (status !== 200) throw new Error(`${what} ${i}: HTTP ${status}`);
      lat.push(performance.now() - t0);
    }
  } finally {
    client.close();
  }
  return lat.sort((a, b) => a - b);
}

async function sequential(count: number, url: string, body: (i: number) => RequestBody): Promise<{ p50ms: number; p99ms: number }> {
  const lat = await oneClient(url, body, (i) => i < count, 'sequential query');
  return { p50ms: lat[Math.floor(lat.length / 2)]!, p99ms: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))]! };
}

/** One client querying all along while `during` runs (queries served during the load). */
async function queryMeanwhile(url: string, body: (i: number) => RequestBody, during: Promise<unknown>): Promise<{ queries: number; p50ms: number; p99ms: number }> {
  let done = false;
  void during.finally(() => (done = true));
  const lat = await oneClient(url, body, () => !done, 'query during the load');
  return { queries: lat.length, p50ms: lat[Math.floor(lat.length / 2)] ?? Number.NaN, p99ms: lat[Math.floor(lat.length * 0.99)] ?? Number.NaN };
}

async function loadHotvec(hv: Hotvec, data: Float32Array): Promise<{ seconds: number; p50ms: number; p99ms: number }> {
  const batch = num('batch');
  const starts: number[] = [];
  for (let i = 0; i < n; i += batch) starts.push(i);
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: num('upsert-concurrency') }, async () => {
      while (next < starts.length) {
        const start = starts[next++]!;
        const end = Math.min(n, start + batch);
        const ids = Array.from({ length: end - start }, (_, i) => idOf(start + i));
        const s = performance.now();
        const r = await fetch(`${hv.url}/v1/collections/${COLLECTION}/upsert`, {
          method: 'POST',
          headers: { 'content-type': 'application/msgpack' },
          body: packr.pack({ ids, embeddings: f32bytes(data.subarray(start * dim, end * dim)) }),
        });
        if (r.status !== 200) throw new Error(`hotvec upsert failed: ${r.status} ${await r.text()}`);
        await r.arrayBuffer();
        lat.push(performance.now() - s);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { seconds: (performance.now() - t0) / 1000, p50ms: lat[Math.floor(lat.length / 2)]!, p99ms: lat[Math.floor(lat.length * 0.99)]! };
}

/** Waits until hotvec's managed Chroma holds every record (the write-behind is done); returns its pid. */
async function waitHotvecFlushed(hv: Hotvec, timeoutMs: number): Promise<{ seconds: number; chromaPid: number }> {
  const t0 = performance.now();
  const line = hv.logs.find((l) => l.includes('managed Chroma started'));
  const url = line ? (JSON.parse(line) as { url?: string }).url : undefined;
  if (!url) throw new Error('hotvec did not log its managed Chroma URL');
  const { chroma: chromaPid } = JSON.parse(await readFile(join(hv.dataDir, 'chroma', 'chroma.pid'), 'utf8')) as { chroma: number };
  const col = await clientFor(url).getCollection({ name: `hotvec_${COLLECTION}` });
  for (;;) {
    const count = await col.count();
    if (count >= n) break;
    if (performance.now() - t0 > timeoutMs) throw new Error(`hotvec's Chroma holds ${count} of ${n} records after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return { seconds: (performance.now() - t0) / 1000, chromaPid };
}

/**
 * fetch, retried once when the kept-alive connection it reused had been closed by the server
 * meanwhile (uWS closes HTTP connections idle for 10 s; the brute force before the recall
 * queries takes longer than that). Only for requests that are safe to repeat.
 */
async function fetchRetry(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    if ((err as { cause?: { code?: string } }).cause?.code !== 'UND_ERR_SOCKET') throw err;
    return fetch(url, init);
  }
}

async function hotvecRecall(hv: Hotvec, queries: Float32Array): Promise<string[][]> {
  const out: string[][] = [];
  const nq = queries.length / dim;
  for (let q = 0; q < nq; q += 100) {
    const rows = queries.subarray(q * dim, Math.min(nq, q + 100) * dim);
    const r = await fetchRetry(`${hv.url}/v1/collections/${COLLECTION}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/msgpack', accept: 'application/msgpack' },
      body: packr.pack({ embeddings: f32bytes(rows), k }),
    });
    if (!r.ok) throw new Error(`hotvec recall query: HTTP ${r.status}`);
    out.push(...(packr.unpack(new Uint8Array(await r.arrayBuffer())) as { ids: string[][] }).ids);
  }
  return out;
}

async function main(): Promise<void> {
  const machine = {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    // Other work on the machine skews every figure; the 1-minute load average says how much there was.
    loadAverageAtStart: loadavg()[0]!,
  };
  log(`machine: ${JSON.stringify(machine)}; data ${n} × ${dim}, l2, k ${k}`);
  const source = new ClusteredSource({ dim, clusters: num('clusters'), intrinsic: num('intrinsic'), seed: 1 });
  const data = source.take(n);
  const recallQueries = source.take(num('recall-queries'));
  const stream = new QueryStream(source.take(num('load-queries')));
  const hvAround = around('{"embeddings":[', `],"k":${k}}`);
  const chromaAround = around(...ChromaUnderTest.queryBodyAround(k));

  const chroma = await ChromaUnderTest.start();
  let hv: Hotvec | undefined;
  let floor: ReferenceServer | undefined;
  let ceiling: ReferenceServer | undefined;
  try {
    // Chroma first, alone on the machine, so its load time is its own.
    await chroma.create(COLLECTION);
    log(`loading Chroma (${chroma.server.url}) through the JS client…`);
    const chromaLoadSeconds = await chroma.load(data, dim, idOf, num('chroma-batch'), num('chroma-concurrency'));
    if ((await chroma.count()) !== n) throw new Error('Chroma count differs from n after loading');
    log(`Chroma: ${n} vectors in ${chromaLoadSeconds.toFixed(1)} s`);
    await waitQuiet([chroma.pid], { timeoutMs: 300_000 });

    const hvArgs = ['--workers', String(num('workers')), '--fsync', String(opt.fsync), '--query-port', '0'];
    hv = await startHotvec({ args: hvArgs });
    const index = { m: num('m'), efConstruction: num('ef-construction'), efSearch: num('ef'), storage: opt.storage };
    const created = await fetch(`${hv.url}/v1/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: COLLECTION, dimension: dim, index }) });
    if (created.status !== 201) throw new Error(`create collection: ${created.status} ${await created.text()}`);
    log(`loading hotvec (msgpack float32 upserts; HNSW ${JSON.stringify(index)}), one client querying meanwhile…`);
    const loading = loadHotvec(hv, data);
    const meanwhileStream = stream;
    const [hvLoad, duringLoad] = await Promise.all([
      loading,
      queryMeanwhile(`${hv.url}/v1/collections/${COLLECTION}/query`, (i) => meanwhileStream.body(90_000_000 + i, hvAround), loading),
    ]);
    log(`hotvec: ${n} vectors acknowledged (durable) in ${hvLoad.seconds.toFixed(1)} s (${duringLoad.queries} queries answered meanwhile, p50 ${duringLoad.p50ms.toFixed(1)} ms); waiting for its write-behind into its Chroma…`);
    const flushed = await waitHotvecFlushed(hv, num('flush-timeout') * 1000);
    log(`hotvec's Chroma caught up ${flushed.seconds.toFixed(1)} s after the last acknowledgement`);
    const indexed = await waitIndexed(hv.url, COLLECTION, 1_800_000);
    log(`hotvec's graphs were in ${indexed.seconds.toFixed(1)} s after that: segments ${JSON.stringify(indexed.detail.segments)}`);
    const pids = [hv.proc.pid!, flushed.chromaPid, chroma.pid];
    if (!(await waitQuiet(pids, { timeoutMs: 300_000 }))) log('warning: processes still busy after 300 s; measuring anyway');
    const files = await graphFiles(hv.dataDir, indexed.detail.segments);
    const sealedNodes = indexed.detail.segments.filter((sg) => sg.phase === 'sealed').reduce((a, sg) => a + sg.records, 0);
    const graph = await graphOnlyBytes(files, sealedNodes, dim, indexed.detail.index.storage);
    const memoryIdle = await memoryOf(hv.proc.pid!); // before any query mapped a graph file
    const rawBytes = n * dim * 4;
    const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
    log(
      `hotvec memory after indexing: RSS ${mib(memoryIdle.rss)} MiB, PSS ${mib(memoryIdle.pss)} MiB (arena ${mib(memoryIdle.arena)}, C heap ${mib(memoryIdle.cHeap)}); ` +
        `raw vectors ${mib(rawBytes)} MiB, graph files ${mib(graph.fileBytes)} MiB of which links ${mib(graph.graphBytes)} MiB`,
    );
    const bareQueries = Array.from({ length: 1000 }, (_, i) => stream.f32(80_000_000 + i));
    // The searches hotvec makes: as many candidates as it asks a graph for, i8 queries quantised as
    // its builder quantised the graph's vectors (one merged graph over all the data: the same fit).
    const storage = indexed.detail.index.storage as StorageKind;
    const candidates = graphCandidates(k, num('ef'), storage);
    const quantizer = storage === 'i8' ? fitI8(data, dim) : undefined;
    if (quantizer && files.length !== 1) log(`warning: ${files.length} i8 graphs; the bare baseline quantises with one fit over all the data`);
    const timeBare = (threads: number) => timeBareUsearch(files, dim, indexed.detail.index, num('ef'), bareQueries, candidates, threads, quantizer);
    const bare = await timeBare(1);
    const bareParallel = await timeBare(num('workers'));
    log(
      `bare usearch over the same ${files.length} graph file(s), ef ${opt.ef}, ${candidates} candidates: one thread ${bare.queriesPerSecond.toFixed(0)} queries/s, ${bare.cpuMsPerQuery.toFixed(3)} CPU ms/query; ` +
        `${opt.workers} threads at once ${bareParallel.queriesPerSecond.toFixed(0)} queries/s, ${bareParallel.cpuMsPerQuery.toFixed(3)} CPU ms/query`,
    );

    log(`exact answers for ${recallQueries.length / dim} queries (brute force)…`);
    const truth = exactNeighbours(data, recallQueries, dim, k);
    const recall = {
      hotvec: recallAtK(await hotvecRecall(hv, recallQueries), truth, idOf),
      chroma: recallAtK(await chroma.query(recallQueries, dim, k), truth, idOf),
    };
    log(`recall@${k}: hotvec ${recall.hotvec.toFixed(4)}, Chroma ${recall.chroma.toFixed(4)}`);

    const hvQueryUrl = `${hv.url}/v1/collections/${COLLECTION}/query`;
    const wsUrl = `${hv.url.replace('http', 'ws')}/v1/ws`;
    let hvNext = 0; // every hotvec request of the whole benchmark gets its own vector
    let chromaNext = 0;
    const hvBody = (): ((i: number) => Buffer[]) => {
      const base = hvNext;
      hvNext += 10_000_000;
      return (i) => stream.body(base + i, hvAround);
    };
    const chromaBody = (): ((i: number) => Buffer[]) => {
      const base = chromaNext;
      chromaNext += 10_000_000;
      return (i) => stream.body(base + i, chromaAround);
    };
    // autocannon takes a body whole.
    const whole = (body: (i: number) => Buffer[]) => (i: number) => Buffer.concat(body(i));
    const hvHttp = (seconds: number): Promise<LoadStats> => httpLoad({ url: hvQueryUrl, body: whole(hvBody()), connections, seconds });
    // The same load on the query port, where the workers take the connections themselves.
    const hvPortQueryUrl = `${hv.queryUrl!}/v1/collections/${COLLECTION}/query`;
    const hvPortHttp = (seconds: number): Promise<LoadStats> => httpLoad({ url: hvPortQueryUrl, body: whole(hvBody()), connections, seconds });
    const chromaHttp = (seconds: number): Promise<LoadStats> => httpLoad({ url: chroma.queryUrl, body: whole(chromaBody()), connections, seconds });
    const hvPaced = (rate: number): Promise<LoadStats> => pacedHttpLoad({ url: hvQueryUrl, body: hvBody(), rate, seconds: duration });
    const chromaPaced = (rate: number): Promise<LoadStats> => pacedHttpLoad({ url: chroma.queryUrl, body: chromaBody(), rate, seconds: duration });
    const portWsUrl = `${hv.queryUrl!.replace('http', 'ws')}/v1/ws`;
    const hvWs = (seconds: number, url = wsUrl): Promise<LoadStats> => {
      const base = hvNext;
      hvNext += 10_000_000;
      return wsLoad({
        url,
        sockets: num('ws-sockets'),
        window: num('ws-window'),
        seconds,
        message: (i) => ({ op: 'query', collection: COLLECTION, embeddings: f32bytes(stream.f32(base + i)), k }),
      });
    };

    const wsBatch = Math.max(1, num('ws-batch'));
    const wsBatchWindow = Math.max(1, Math.ceil(num('ws-window') / wsBatch));
    const wsBatchInFlight = num('ws-sockets') * wsBatchWindow; // messages
    const hvWsBatch = (seconds: number, url = wsUrl): Promise<LoadStats> => {
      const base = hvNext;
      hvNext += 10_000_000;
      const rows = new Float32Array(wsBatch * dim);
      return wsLoad({
        url,
        sockets: num('ws-sockets'),
        window: wsBatchWindow,
        seconds,
        queriesPerMessage: wsBatch,
        message: (i) => {
          for (let r = 0; r < wsBatch; r++) rows.set(stream.f32(base + i * wsBatch + r), r * dim);
          return { op: 'query', collection: COLLECTION, embeddings: f32bytes(rows), k };
        },
      });
    };
    // The transport floor (uWS + hotvec's JSON scan and answer, no search) under the same HTTP load.
    floor = await startTransportFloor(dim, k);
    const floorUrl = floor.url;
    const floorHttp = (seconds: number): Promise<LoadStats> => httpLoad({ url: floorUrl, body: whole(hvBody()), connections, seconds });
    // The search ceiling (that transport and the bare search inline in each of as many threads as
    // hotvec has workers, no hand-off) under the same HTTP load.
    const ceilingQuantizer = quantizer && { scale: quantizer.scale, offset: Array.from(quantizer.offset) };
    ceiling = await startSearchCeiling({ dim, k, ef: num('ef'), candidates, threads: num('workers'), settings: indexed.detail.index, files, quantizer: ceilingQuantizer });
    const ceilingUrl = ceiling.url;
    const ceilingHttp = (seconds: number): Promise<LoadStats> => httpLoad({ url: ceilingUrl, body: whole(hvBody()), connections, seconds });

    log(`warm-up, ${opt.warmup} s each…`);
    await hvHttp(num('warmup'));
    await hvPortHttp(num('warmup'));
    await chromaHttp(num('warmup'));
    await hvWs(num('warmup'));
    await hvWs(num('warmup'), portWsUrl);
    await hvWsBatch(num('warmup'));
    await hvWsBatch(num('warmup'), portWsUrl);
    await floorHttp(num('warmup'));
    await ceilingHttp(num('warmup'));

    const perRun: RunPhases[] = [];
    for (let r = 0; r < runs; r++) {
      log(`run ${r + 1}/${runs}: ${duration} s per phase, ${connections} connections`);
      // The bare search again, in the run: the machine's speed drifts by tens of percent between
      // minutes, so each run's one-thread CPU ratios are taken against the bare search of the same
      // run, timed at the start, in the middle and at the end of its saturated phases (~1.5 minutes).
      const bareTimings = [await timeBare(1)];
      const hotvecHttp = await measured(hv.proc.pid!, () => hvHttp(duration));
      const hotvecQueryPort = await measured(hv.proc.pid!, () => hvPortHttp(duration));
      const ceilingPhase = await measured(ceiling.pid, () => ceilingHttp(duration));
      const chromaHttpPhase = await measured(chroma.pid, () => chromaHttp(duration));
      const hotvecWs = await measured(hv.proc.pid!, () => hvWs(duration));
      bareTimings.push(await timeBare(1));
      const hotvecWsBatch = await measured(hv.proc.pid!, () => hvWsBatch(duration));
      const hotvecQueryPortWs = await measured(hv.proc.pid!, () => hvWs(duration, portWsUrl));
      const hotvecQueryPortWsBatch = await measured(hv.proc.pid!, () => hvWsBatch(duration, portWsUrl));
      const floorPhase = await measured(floor.pid, () => floorHttp(duration));
      bareTimings.push(await timeBare(1));
      const mean = (f: (b: (typeof bareTimings)[number]) => number): number => bareTimings.reduce((s, b) => s + f(b), 0) / bareTimings.length;
      const bareInRun = { cpuMsPerQuery: mean((b) => b.cpuMsPerQuery), queriesPerSecond: mean((b) => b.queriesPerSecond) };
      // Each server at half its own saturated rate of this run, evenly spaced arrivals.
      const halfRate = Math.max(1, Math.floor(hotvecHttp.queriesPerSecond / 2));
      const countsBefore = await queryLatencyCounts(hv.url);
      // The Chromas should be idle meanwhile; their CPU says whether they were.
      const othersBefore = [chroma.pid, flushed.chromaPid].map(cpuSeconds);
      const hotvecHalfRate = await measured(hv.proc.pid!, () => hvPaced(halfRate));
      const othersCpu = [chroma.pid, flushed.chromaPid].map((pid, i) => cpuSeconds(pid) - othersBefore[i]!);
      const serverWithin10ms = shareWithin(countsBefore, await queryLatencyCounts(hv.url), 0.01);
      const chromaHalf = Math.max(1, Math.floor(chromaHttpPhase.queriesPerSecond / 2));
      const chromaHalfRate = await measured(chroma.pid, () => chromaPaced(chromaHalf));
      perRun.push({ bare: bareInRun, bareTimings: bareTimings.map((b) => b.cpuMsPerQuery), hotvecHttp, hotvecQueryPort, hotvecQueryPortWs, hotvecQueryPortWsBatch, chromaHttp: chromaHttpPhase, hotvecWs, hotvecWsBatch, floorHttp: floorPhase, ceilingHttp: ceilingPhase, hotvecHalfRate, chromaHalfRate, serverWithin10ms });
      log(
        `  hotvec HTTP ${hotvecHttp.queriesPerSecond.toFixed(0)}/s p99 ${hotvecHttp.p99ms.toFixed(1)} ms | Chroma HTTP ${chromaHttpPhase.queriesPerSecond.toFixed(0)}/s p99 ${chromaHttpPhase.p99ms.toFixed(1)} ms | ` +
          `ratio ${(hotvecHttp.queriesPerSecond / chromaHttpPhase.queriesPerSecond).toFixed(2)} | query port ${hotvecQueryPort.queriesPerSecond.toFixed(0)}/s p99 ${hotvecQueryPort.p99ms.toFixed(1)} ms (${(hotvecQueryPort.queriesPerSecond / chromaHttpPhase.queriesPerSecond).toFixed(2)}× Chroma, ${hotvecQueryPort.cpuMsPerQuery.toFixed(3)} CPU ms/q, ${(hotvecQueryPort.cpuMsPerQuery / bareInRun.cpuMsPerQuery).toFixed(2)}× bare) | bare ${bareInRun.cpuMsPerQuery.toFixed(3)} CPU ms/q (${bareTimings.map((b) => b.cpuMsPerQuery.toFixed(3)).join(', ')}), hotvec ${hotvecHttp.cpuMsPerQuery.toFixed(3)} (${(hotvecHttp.cpuMsPerQuery / bareInRun.cpuMsPerQuery).toFixed(2)}×) | hotvec WS ${hotvecWs.queriesPerSecond.toFixed(0)}/s (query port ${hotvecQueryPortWs.queriesPerSecond.toFixed(0)}/s, ${hotvecQueryPortWs.cpuMsPerQuery.toFixed(3)} CPU ms/q), ${wsBatch} per message ${hotvecWsBatch.queriesPerSecond.toFixed(0)}/s (${hotvecWsBatch.cpuMsPerQuery.toFixed(3)} CPU ms/q; query port ${hotvecQueryPortWsBatch.queriesPerSecond.toFixed(0)}/s, ${hotvecQueryPortWsBatch.cpuMsPerQuery.toFixed(3)} CPU ms/q, ${(hotvecQueryPortWsBatch.cpuMsPerQuery / bareInRun.cpuMsPerQuery).toFixed(2)}× bare) | ` +
          `HTTP floor ${floorPhase.queriesPerSecond.toFixed(0)}/s ${floorPhase.cpuMsPerQuery.toFixed(3)} CPU ms/q | ` +
          `search ceiling ${ceilingPhase.queriesPerSecond.toFixed(0)}/s (${(ceilingPhase.queriesPerSecond / chromaHttpPhase.queriesPerSecond).toFixed(2)}× Chroma) ${ceilingPhase.cpuMsPerQuery.toFixed(3)} CPU ms/q (${(ceilingPhase.cpuMsPerQuery / bareInRun.cpuMsPerQuery).toFixed(2)}× bare) | half rate p99: hotvec (${halfRate}/s) ${hotvecHalfRate.p99ms.toFixed(1)} ms (server clock: ${(100 * serverWithin10ms).toFixed(2)}% within 10 ms; meanwhile CPU s of Chroma ${othersCpu[0]!.toFixed(2)}, of hotvec's Chroma ${othersCpu[1]!.toFixed(2)}), Chroma (${chromaHalf}/s) ${chromaHalfRate.p99ms.toFixed(1)} ms`,
      );
    }

    await floor.stop();
    floor = undefined;
    await ceiling.stop();
    ceiling = undefined;

    log(`one sequential client, ${opt.sequential} queries each…`);
    const seqCount = num('sequential');
    const seqMiss = await sequential(seqCount, hvQueryUrl, hvBody());
    const hitBody = stream.repeatBody(0, hvAround);
    // Twice: the second time it has been seen before and is kept (admission "repeat").
    await oneClient(hvQueryUrl, () => hitBody, (i) => i < 2, 'cache-priming query');
    const seqHit = await sequential(seqCount, hvQueryUrl, () => hitBody);
    const seqChroma = await sequential(seqCount, chroma.queryUrl, chromaBody());

    log('saturated cache hits (100 repeating queries)…');
    const hits = await measured(hv.proc.pid!, () => httpLoad({ url: hvQueryUrl, body: (i) => Buffer.concat(stream.repeatBody(i % 100, hvAround)), connections, seconds: duration }));

    const memory = await memoryOf(hv.proc.pid!); // serving: every worker has mapped and searched the graphs
    log(`hotvec memory after the query phases: RSS ${(memory.rss / 2 ** 20).toFixed(0)} MiB, PSS ${(memory.pss / 2 ** 20).toFixed(0)} MiB (arena ${(memory.arena / 2 ** 20).toFixed(0)}, graph files ${(memory.graphFiles / 2 ** 20).toFixed(0)}, C heap ${(memory.cHeap / 2 ** 20).toFixed(0)})`);

    log('graceful restart on the same data folder…');
    const restart = await timedRestart(hv, hvArgs);
    hv = restart.hotvec;
    log(`hotvec answered again ${restart.readySeconds.toFixed(2)} s after the restart began`);

    const measuredAll: Measured = {
      n,
      k,
      wsBatch,
      wsBatchInFlight,
      connections,
      workers: num('workers'),
      recall,
      hnsw: { ...indexed.detail.index, ef: num('ef'), candidates, segments: indexed.detail.segments, indexingSecondsAfterFlush: indexed.seconds },
      duringLoad,
      bare,
      bareParallel,
      memory,
      memoryIdle,
      rawBytes,
      graph,
      restart: { readySeconds: restart.readySeconds, recovery: restart.recovery },
      loadSeconds: { hotvec: hvLoad.seconds, chroma: chromaLoadSeconds },
      perRun,
      seqMiss,
      seqHit,
      seqChroma,
      hits,
    };
    const summary = summarize(measuredAll);
    const table = sideBySide(summary, measuredAll);
    console.log(`\nhotvec vs Chroma — ${n} × ${dim} l2, k ${k}, clustered synthetic; hotvec HNSW M ${opt.m}, ef_construction ${opt['ef-construction']}, ef ${opt.ef}, ${opt.storage} graph storage; Chroma's defaults; ${machine.cores} cores (${machine.cpu}), Node ${machine.node}; medians of ${runs} run(s) of ${duration} s; load average ${machine.loadAverageAtStart.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} now`);
    console.table(table);
    const setup = { n, dim, k, fsync: String(opt.fsync) };
    const targets = checkTargets(summary, setup);
    console.log(`\n${formatTargets(targets, setup)}`);
    console.log(
      `for reference, not hotvec: the search ceiling (the HTTP transport and the bare search inline in ${num('workers')} threads) spent ${summary.searchCeiling.cpuOverBareInRun.toFixed(2)}× the bare search per query, ` +
        `the transport floor plus the bare search ${summary.cpuVsBareUsearch.ratioHttpLowerBoundInRun.toFixed(2)}×`,
    );

    const report = {
      machine: { ...machine, loadAverageAtEnd: loadavg()[0]! },
      data: { n, dim, metric: 'l2', k, distribution: `clustered synthetic: ${opt.clusters} clusters, intrinsic dimension ${opt.intrinsic}`, recallQueries: recallQueries.length / dim, loadQueries: stream.size },
      settings: { runs, durationSeconds: duration, connections, wsSockets: num('ws-sockets'), wsWindow: num('ws-window'), wsBatch, workers: num('workers'), fsync: opt.fsync, hotvecUpsertBatch: num('batch'), chromaBatch: num('chroma-batch') },
      load: { hotvec: { ...hvLoad, vectorsPerSecond: n / hvLoad.seconds, writeBehindCatchUpSeconds: flushed.seconds }, chroma: { seconds: chromaLoadSeconds, vectorsPerSecond: n / chromaLoadSeconds } },
      summary,
      targets: { issueSetup: isIssueSetup(setup), checks: targets },
      runs: perRun,
    };
    await mkdir('load-tests/results', { recursive: true });
    const file = `load-tests/results/vs-chroma-${n}x${dim}.json`;
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${file}`);
  } catch (err) {
    if (hv) console.error(`hotvec's last log lines (exit code ${hv.proc.exitCode}, signal ${hv.proc.signalCode}):\n${hv.logs.slice(-40).join('\n')}`);
    throw err;
  } finally {
    await floor?.stop();
    await ceiling?.stop();
    if (hv) {
      await hv.stop();
      await removeDir(hv.dataDir);
    }
    await chroma.close();
  }
}

await main();
