/**
 * Which HNSW settings to give a collection: M × ef for f16 graphs as hotvec searches them, on
 * the data `npm run bench:vs-chroma` loads (load-tests/vs-chroma/data.ts: 100 clusters, each a
 * 16-dimensional latent space mapped into 784 dimensions plus noise), HOTVEC_BENCH_N vectors
 * (20,000 by default; the speed milestone's figures are at 60,000).
 *
 * Per M (16 = Chroma's default, 32, 64) one f16 graph is built with hotvec's own construction
 * (src/graph/usearch.ts, ef_construction 100, 2 threads); per ef a view of its file asks for
 * the candidates hotvec asks for (`graphCandidates`: k + k for f16), which are re-ranked with
 * the exact float32 vectors as hotvec re-ranks them. Recall@10 is against brute force (200
 * queries of the data's distribution, as the benchmark's); queries/s and CPU ms per query time
 * the graph search alone (the re-rank here is a JS loop, hotvec's a WASM kernel over the arena),
 * one thread, views round-robin so drift spreads over all of them.
 *
 * What it showed at 60,000 × 784: a better connected graph needs a smaller ef for the same
 * recall, and the smaller ef pays for the larger M several times over.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ClusteredSource, exactNeighbours } from '../load-tests/vs-chroma/data.js';
import { newIndex, type UsearchIndex } from '../src/graph/usearch.js';
import { graphCandidates } from '../src/vector-index/scan.js';
import type { IndexSettings } from '../src/vector-index/settings.js';
import { sizeFromEnv } from './env.js';
import { median, type BenchRow } from './report.js';
import { roundRobin } from './round-robin.js';

const BENCH = 'hnsw-tuning';
const K = 10;
const N = sizeFromEnv('HOTVEC_BENCH_N', 20_000, K);
const DIM = sizeFromEnv('HOTVEC_BENCH_DIM', 784);
const QUERIES = 200;
const MS = [16, 32, 64];
const EFS = [32, 40, 48, 64, 100];
const EF_CONSTRUCTION = 100;
const BUILD_THREADS = 2;
const REPEATS = 5;
/** A sample runs whole passes over the queries until it has lasted this long. */
const SAMPLE_MS = 250;

interface View {
  m: number;
  ef: number;
  index: UsearchIndex;
  fileMB: number;
  recall: number;
  qps: number[];
  cpuMs: number[];
}

function settings(m: number): IndexSettings {
  return { m, efConstruction: EF_CONSTRUCTION, efSearch: EFS[0]!, storage: 'f16' };
}

/** Squared l2 of `query` and row `row` of `data`. */
function l2sq(data: Float32Array, row: number, query: Float32Array): number {
  let sum = 0;
  for (let j = 0, o = row * DIM; j < DIM; j++) {
    const d = data[o + j]! - query[j]!;
    sum += d * d;
  }
  return sum;
}

/** Recall@10 of the view's candidates after the exact re-rank, against `truth`. */
function rerankedRecall(index: UsearchIndex, candidates: number, data: Float32Array, queries: Float32Array[], truth: number[][]): number {
  let hits = 0;
  queries.forEach((query, q) => {
    const keys = Array.from(index.search(query, candidates, 1).keys, Number);
    const top = keys
      .map((key) => ({ key, d: l2sq(data, key, query) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, K);
    const t = new Set(truth[q]);
    for (const { key } of top) if (t.has(key)) hits++;
  });
  return hits / (queries.length * K);
}

export async function run(): Promise<BenchRow[]> {
  const source = new ClusteredSource({ dim: DIM, clusters: 100, intrinsic: 16, seed: 1 });
  const data = source.take(N);
  const queryRows = source.take(QUERIES);
  const truth = exactNeighbours(data, queryRows, DIM, K);
  // Each query in its own buffer (usearch reads a typed array from the start of its buffer).
  const queries = Array.from({ length: QUERIES }, (_, i) => queryRows.slice(i * DIM, (i + 1) * DIM));
  // f16 asks for k + k whatever the ef (graphCandidates); one count for every view.
  const candidates = graphCandidates(K, Math.max(...EFS), 'f16');
  const dir = await mkdtemp(join(tmpdir(), 'hotvec-hnsw-tuning-'));
  const views: View[] = [];
  const builds: BenchRow[] = [];
  try {
    for (const m of MS) {
      const graph = newIndex(DIM, 'l2', settings(m));
      const start = performance.now();
      graph.add(BigUint64Array.from({ length: N }, (_, i) => BigInt(i)), data, BUILD_THREADS);
      const seconds = (performance.now() - start) / 1000;
      const path = join(dir, `m${m}.usearch`);
      graph.save(path);
      const fileMB = (await stat(path)).size / 2 ** 20;
      builds.push({ bench: BENCH, case: `build f16, ef_construction ${EF_CONSTRUCTION}, ${BUILD_THREADS} threads`, impl: `M=${m}`, median: seconds, unit: 's', samples: [seconds], extra: { 'file MB': fileMB } });
      for (const ef of EFS) {
        const index = newIndex(DIM, 'l2', settings(m), ef);
        index.view(path);
        views.push({ m, ef, index, fileMB, recall: rerankedRecall(index, candidates, data, queries, truth), qps: [], cpuMs: [] });
      }
    }
    const samples = roundRobin(
      views.map((v) => () => {
        for (const query of queries) v.index.search(query, candidates, 1);
      }),
      QUERIES,
      REPEATS,
      SAMPLE_MS,
    );
    views.forEach((v, i) => {
      v.qps = samples[i]!.map((x) => x.perSecond);
      v.cpuMs = samples[i]!.map((x) => x.cpuMsPerItem);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const caseName = `top${K} l2 n=${N} dim=${DIM}, f16 graph, ${candidates} candidates re-ranked exactly`;
  const rows: BenchRow[] = views.map((v) => ({
    bench: BENCH,
    case: caseName,
    impl: `M=${v.m} ef=${v.ef}`,
    median: median(v.qps),
    unit: 'queries/s',
    samples: v.qps,
    extra: { 'recall@10': v.recall, 'CPU ms/query': median(v.cpuMs) },
  }));
  return [...rows, ...builds];
}
