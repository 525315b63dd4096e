/**
 * Exact flat scan vs usearch HNSW for one-thread top-10 l2 queries on the clustered synthetic
 * data set of the load tests (load-tests/lib/dataset.ts): 20,000 × 784 by default, or
 * HOTVEC_BENCH_N × HOTVEC_BENCH_DIM. Two sets of 200 queries: held-out points of the same
 * clusters (the generator run on past the data), and the generator with another seed, as the
 * load tests query. The seed also picks the 64 cluster centres, so those queries lie far from
 * every cluster, where all distances are alike and a graph search is at its worst.
 *
 * Query rows give queries/s and recall@10 against usearch's exact answers: usearch
 * `exactSearch` and our WASM SIMD kernel + JS top-k (both one thread), then HNSW (M=16,
 * expansion_add=100) at expansion_search 16…256 in f32, and 64 and 100 in f16 and i8.
 * Other rows time the build (`add`, 2 threads, once per quantization: it is the slow part),
 * `save`, and `view` (memory-maps the saved file).
 *
 * i8 graphs are built and searched as hotvec builds and searches l2 ones: vectors and queries
 * quantised by src/graph/quantize.ts (centred per dimension, one scale), not by usearch's own
 * cast, which scales every vector to unit length (ranking l2 by direction alone: recall@10 0.42
 * on this data). Recall here is the graph's alone, before hotvec's exact re-rank of its
 * candidates (for i8, every one of the ef the search expands).
 *
 * usearch fixes expansion_search when an Index is constructed, so each ef is a fresh Index
 * viewing the saved file. Query contenders run round-robin, pass after pass, so machine
 * drift spreads over all of them.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { clusteredVectors } from '../load-tests/lib/dataset.js';
import { createWasmKernels } from '../src/kernels/index.js';
import { fitI8, quantizeI8, type I8Quantizer } from '../src/graph/quantize.js';
import { TopK } from '../src/vector-index/topk.js';
import { sizeFromEnv } from './env.js';
import { median, type BenchRow } from './report.js';
import { roundRobin } from './round-robin.js';

const BENCH = 'hnsw';
const K = 10;
const N = sizeFromEnv('HOTVEC_BENCH_N', 20_000, K);
const DIM = sizeFromEnv('HOTVEC_BENCH_DIM', 784);
const QUERIES = 200;
const CONNECTIVITY = 16;
const EXPANSION_ADD = 100;
const BUILD_THREADS = 2;
const F32_EFS = [16, 32, 64, 100, 128, 256];
const QUANTIZED_EFS = [64, 100];
const REPEATS = 5;
/** A sample runs whole passes over the queries until it has lasted this long. */
const SAMPLE_MS = 250;
const PAGE = 65536;

type Usearch = typeof import('usearch');
type Index = InstanceType<Usearch['Index']>;
type Quantization = 'f32' | 'f16' | 'i8';

/**
 * usearch 2.25's ESM entry never loads: it looks for its native build from a `file:` URL
 * instead of a path and recurses until the stack overflows. The CommonJS entry works.
 */
function loadUsearch(): Usearch {
  return createRequire(import.meta.url)('usearch') as Usearch;
}

/** One way to answer a query; returns its k keys (for recall). */
interface Contender {
  impl: string;
  search: (query: Float32Array) => ArrayLike<number | bigint>;
}

interface Measured {
  impl: string;
  samples: number[];
  /** Result keys of the first (warm-up) pass, one array per query. */
  answers: (number | bigint)[][];
}

/** One pass each recording answers, then REPEATS queries/s samples, round-robin (after one calibrating pass each). */
function measure(contenders: readonly Contender[], queries: readonly Float32Array[]): Measured[] {
  const answers = contenders.map((c) => queries.map((query) => Array.from(c.search(query))));
  const passes = contenders.map((c) => () => {
    for (const query of queries) c.search(query);
  });
  const samples = roundRobin(passes, queries.length, REPEATS, SAMPLE_MS);
  return contenders.map((c, i) => ({ impl: c.impl, samples: samples[i]!.map((x) => x.perSecond), answers: answers[i]! }));
}

/** Mean fraction of the exact top-k that `answers` found. */
function recall(answers: readonly (number | bigint)[][], exact: readonly (number | bigint)[][]): number {
  let hits = 0;
  answers.forEach((keys, q) => {
    const truth = new Set(exact[q]!.map(Number));
    hits += keys.filter((key) => truth.has(Number(key))).length;
  });
  return hits / (answers.length * K);
}

/** Our exact scan as the engine runs it: WASM l2sq over a shared memory, then a JS top-k. */
function wasmExact(base: Float32Array): Contender {
  const baseOff = Math.ceil((DIM * 4) / 64) * 64;
  const outOff = baseOff + N * DIM * 4;
  const pages = Math.ceil((outOff + N * 4) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const query = new Float32Array(memory.buffer, 0, DIM);
  new Float32Array(memory.buffer, baseOff, N * DIM).set(base);
  const out = new Float32Array(memory.buffer, outOff, N);
  const kernels = createWasmKernels(memory);
  const topk = new TopK(K);
  const slots = new Int32Array(K);
  const distances = new Float32Array(K);
  return {
    impl: `${kernels.name} exact + js top${K}`,
    search: (vector) => {
      query.set(vector);
      kernels.l2sq(0, baseOff, DIM, N, outOff);
      topk.reset(K);
      for (let i = 0; i < N; i++) if (out[i]! < topk.threshold) topk.push(out[i]!, i);
      topk.drainSorted(slots, distances, 0);
      return slots;
    },
  };
}

interface Built {
  quantization: Quantization;
  path: string;
  buildSeconds: number;
  saveMs: number[];
  fileMB: number;
  /** i8: how the vectors were quantised (queries are quantised alike). */
  quantizer?: I8Quantizer;
}

/** Builds an HNSW index over `base` in `quantization` and saves it; times both. */
async function buildAndSave(usearch: Usearch, base: Float32Array, quantization: Quantization, dir: string): Promise<Built> {
  const index = newIndex(usearch, quantization, 64);
  const keys = BigUint64Array.from({ length: N }, (_, i) => BigInt(i));
  const quantizer = quantization === 'i8' ? fitI8(base, DIM) : undefined;
  const vectors = quantizer ? quantizeI8(base, quantizer) : base;
  let start = performance.now();
  index.add(keys, vectors, BUILD_THREADS);
  const buildSeconds = (performance.now() - start) / 1000;
  const path = join(dir, `${quantization}.usearch`);
  const saveMs: number[] = [];
  for (let r = 0; r < 3; r++) {
    start = performance.now();
    index.save(path);
    saveMs.push(performance.now() - start);
  }
  return { quantization, path, buildSeconds, saveMs, fileMB: (await stat(path)).size / 2 ** 20, ...(quantizer ? { quantizer } : {}) };
}

function newIndex(usearch: Usearch, quantization: Quantization, ef: number): Index {
  const scalar = { f32: usearch.ScalarKind.F32, f16: usearch.ScalarKind.F16, i8: usearch.ScalarKind.I8 }[quantization];
  return new usearch.Index({
    dimensions: DIM,
    metric: usearch.MetricKind.L2sq,
    quantization: scalar,
    connectivity: CONNECTIVITY,
    expansion_add: EXPANSION_ADD,
    expansion_search: ef,
    multi: false,
  });
}

function row(caseName: string, impl: string, unit: string, samples: number[], extra?: Record<string, number>): BenchRow {
  return { bench: BENCH, case: caseName, impl, median: median(samples), unit, samples, ...(extra ? { extra } : {}) };
}

/** `count` vectors of `dim` floats, each in its own buffer (see `run` for why). */
function split(rows: Float32Array, count: number): Float32Array[] {
  return Array.from({ length: count }, (_, i) => rows.slice(i * DIM, (i + 1) * DIM));
}

export async function run(): Promise<BenchRow[]> {
  const usearch = loadUsearch();
  const data = clusteredVectors(N + QUERIES, DIM, 1);
  const base = data.subarray(0, N * DIM);
  // Each query in its own buffer: usearch's exactSearch reads typed arrays from the start of
  // their ArrayBuffer, ignoring byteOffset, so a subarray would search with the wrong vector.
  const querySets = [
    { name: 'held-out queries', queries: split(data.subarray(N * DIM), QUERIES) },
    { name: 'seed-2 queries', queries: split(clusteredVectors(QUERIES, DIM, 2), QUERIES) },
  ];
  const exactContenders: Contender[] = [
    { impl: 'usearch exactSearch', search: (query) => usearch.exactSearch(base, query, DIM, K, usearch.MetricKind.L2sq, 1).keys },
    wasmExact(base),
  ];
  const rows: BenchRow[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'hotvec-hnsw-'));
  try {
    const built: Built[] = [];
    for (const q of ['f32', 'f16', 'i8'] as const) built.push(await buildAndSave(usearch, base, q, dir));

    const graphContenders: Contender[] = [];
    const viewMs = new Map<Quantization, number[]>();
    for (const b of built) {
      viewMs.set(b.quantization, []);
      for (const ef of b.quantization === 'f32' ? F32_EFS : QUANTIZED_EFS) {
        const index = newIndex(usearch, b.quantization, ef);
        const start = performance.now();
        index.view(b.path);
        viewMs.get(b.quantization)!.push(performance.now() - start);
        const { quantizer } = b;
        const i8 = new Int8Array(DIM);
        graphContenders.push({ impl: `hnsw ${b.quantization} ef=${ef}`, search: (query) => index.search(quantizer ? quantizeI8(query, quantizer, i8) : query, K, 1).keys });
      }
    }

    for (const { name, queries } of querySets) {
      const caseName = `top${K} l2 n=${N} dim=${DIM}, ${name}`;
      const exact = measure(exactContenders, queries);
      const truth = exact[0]!.answers;
      const exactMedian = median(exact[0]!.samples);
      for (const m of [...exact, ...measure(graphContenders, queries)]) {
        rows.push(row(caseName, m.impl, 'queries/s', m.samples, { 'recall@10': recall(m.answers, truth), 'x exact': median(m.samples) / exactMedian }));
      }
    }

    const builder = `M=${CONNECTIVITY} ef_add=${EXPANSION_ADD}`;
    for (const b of built) {
      rows.push(row(`build: add ${BUILD_THREADS} threads`, `hnsw ${b.quantization} ${builder}`, 's', [b.buildSeconds], { 'vectors/s': N / b.buildSeconds }));
      rows.push(row('save', `hnsw ${b.quantization}`, 'ms', b.saveMs, { MB: b.fileMB }));
      rows.push(row('view (mmap)', `hnsw ${b.quantization}`, 'ms', viewMs.get(b.quantization)!));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
