/**
 * Distance kernels: JS scalar vs WASM SIMD over the shared arena, and both (plus a JS top-k
 * selection) against usearch's native `exactSearch`, for one query over n vectors.
 *
 * And the re-rank of graph candidates: rows scattered over an arena far larger than the caches,
 * measured one call per row against one gather call for all of them.
 *
 * Every implementation of a case is measured round-robin, repeat after repeat, so drift in
 * the machine (turbo, a noisy neighbour) spreads over all of them instead of biasing one.
 * All runs are single-threaded: the engine parallelises across workers, not inside a scan.
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { createScalarKernels, createWasmKernels, type DistanceKernels } from '../src/kernels/index.js';
import { median, type BenchRow } from './report.js';

const BENCH = 'kernels';
const DIMS = [128, 784, 1536];
const N = 16384;
const K = 10;
const REPEATS = 9;
/** Each sample runs the call often enough to last this long, so timer resolution does not matter. */
const SAMPLE_MS = 100;
const WARMUP_MS = 300;
const PAGE = 65536;

type Usearch = typeof import('usearch');

/**
 * usearch 2.25's ESM entry never loads: it looks for its native build from a `file:` URL
 * instead of a path and recurses until the stack overflows. The CommonJS entry works.
 */
function loadUsearch(): Usearch {
  return createRequire(import.meta.url)('usearch') as Usearch;
}

/** The k smallest (distance, index) pairs, kept sorted by insertion: k is small, n is not. */
class TopK {
  readonly distances: Float64Array;
  readonly indices: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    this.distances = new Float64Array(k);
    this.indices = new Int32Array(k);
  }

  /** Selects from `values` (negated first when `largest`, so the biggest dot products win). */
  select(values: Float32Array, largest: boolean): this {
    const { k, distances, indices } = this;
    this.size = 0;
    const sign = largest ? -1 : 1;
    for (let i = 0; i < values.length; i++) {
      const d = sign * values[i]!;
      let pos: number;
      if (this.size === k) {
        if (d >= distances[k - 1]!) continue;
        pos = k - 1;
      } else {
        pos = this.size++;
      }
      while (pos > 0 && distances[pos - 1]! > d) {
        distances[pos] = distances[pos - 1]!;
        indices[pos] = indices[pos - 1]!;
        pos--;
      }
      distances[pos] = d;
      indices[pos] = i;
    }
    return this;
  }
}

/** xorshift32, so every run measures the same vectors. */
function fillRandom(target: Float32Array, seed: number): void {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < target.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    target[i] = (x / 2 ** 32) * 2 - 1;
  }
}

interface Contender {
  impl: string;
  call: () => void;
}

/** Warms every contender up, then takes REPEATS samples of each, round-robin; returns vectors/s samples. */
function measure(contenders: readonly Contender[], vectorsPerCall: number): Map<string, number[]> {
  const callsPerSample = new Map<string, number>();
  for (const c of contenders) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < WARMUP_MS || calls < 3) {
      c.call();
      calls++;
      elapsed = performance.now() - start;
    }
    callsPerSample.set(c.impl, Math.max(1, Math.ceil((SAMPLE_MS * calls) / elapsed)));
  }
  const samples = new Map<string, number[]>(contenders.map((c) => [c.impl, []]));
  for (let r = 0; r < REPEATS; r++) {
    for (const c of contenders) {
      const calls = callsPerSample.get(c.impl)!;
      const start = performance.now();
      for (let i = 0; i < calls; i++) c.call();
      const seconds = (performance.now() - start) / 1000;
      samples.get(c.impl)!.push((calls * vectorsPerCall) / seconds);
    }
  }
  return samples;
}

function rowsFor(caseName: string, samples: Map<string, number[]>, extra: (impl: string, median: number) => Record<string, number>): BenchRow[] {
  return [...samples].map(([impl, values]) => {
    const m = median(values);
    return { bench: BENCH, case: caseName, impl, median: m, unit: 'vectors/s', samples: values, extra: extra(impl, m) };
  });
}

function benchDim(dim: number, usearch: Usearch): BenchRow[] {
  // Layout in one shared arena, as the engine has it: query, rows, distances.
  const qOff = 0;
  const baseOff = Math.ceil((dim * 4) / 64) * 64;
  const outOff = baseOff + N * dim * 4;
  const pages = Math.ceil((outOff + N * 4) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const query = new Float32Array(memory.buffer, qOff, dim);
  const base = new Float32Array(memory.buffer, baseOff, N * dim);
  const out = new Float32Array(memory.buffer, outOff, N);
  fillRandom(query, dim);
  fillRandom(base, dim + 1);
  // usearch takes ordinary (unshared) typed arrays; slice() copies into one.
  const usearchBase = base.slice();
  const usearchQuery = query.slice();

  const kernels: DistanceKernels[] = [createScalarKernels(memory), createWasmKernels(memory)];
  const rows: BenchRow[] = [];

  for (const [kind, flopsPerElement] of [['l2sq', 3], ['dot', 2]] as const) {
    const caseName = `${kind} dim=${dim} n=${N}`;
    const samples = measure(
      kernels.map((k) => ({ impl: k.name, call: () => k[kind](qOff, baseOff, dim, N, outOff) })),
      N,
    );
    const scalarMedian = median(samples.get('scalar')!);
    rows.push(
      ...rowsFor(caseName, samples, (impl, m) => ({
        'GFLOP/s': (m * dim * flopsPerElement) / 1e9,
        'GB/s': (m * dim * 4) / 1e9,
        ...(impl === 'scalar' ? {} : { 'x scalar': m / scalarMedian }),
      })),
    );
  }

  for (const [kind, metric] of [['l2sq', usearch.MetricKind.L2sq], ['dot', usearch.MetricKind.IP]] as const) {
    const caseName = `top${K} ${kind} dim=${dim} n=${N}`;
    const largest = kind === 'dot';
    const topk = new TopK(K);
    let usearchKeys: BigUint64Array = new BigUint64Array(0);
    const contenders: Contender[] = [
      ...kernels.map((k) => ({
        impl: `${k.name}+js-top${K}`,
        call: () => {
          k[kind](qOff, baseOff, dim, N, outOff);
          topk.select(out, largest);
        },
      })),
      {
        impl: 'usearch-exact',
        call: () => {
          usearchKeys = usearch.exactSearch(usearchBase, usearchQuery, dim, K, metric, 1).keys as BigUint64Array;
        },
      },
    ];
    const samples = measure(contenders, N);

    // Sanity: the WASM top-k and usearch's should name the same vectors (ties aside).
    kernels[1]![kind](qOff, baseOff, dim, N, outOff);
    const ours = new Set(topk.select(out, largest).indices);
    const agree = [...usearchKeys].filter((key) => ours.has(Number(key))).length;

    const scalarMedian = median(samples.get(`scalar+js-top${K}`)!);
    const usearchMedian = median(samples.get('usearch-exact')!);
    rows.push(
      ...rowsFor(caseName, samples, (impl, m): Record<string, number> => {
        if (impl === 'usearch-exact') return { 'x scalar': m / scalarMedian, [`agree@${K}`]: agree };
        if (impl.startsWith('scalar')) return { 'x usearch': m / usearchMedian };
        return { 'x scalar': m / scalarMedian, 'x usearch': m / usearchMedian };
      }),
    );
  }
  return rows;
}

/** The re-rank's shape: 20 candidates (k 10 + 10 for f16) of 784, scattered over 60,000 rows. */
const GATHER = { rows: 60_000, dim: 784, picks: 20, sets: 4096 };

function benchGather(): BenchRow[] {
  const { rows, dim, picks, sets } = GATHER;
  const qOff = 0;
  const offsetsOff = Math.ceil((dim * 4) / 64) * 64;
  const outOff = offsetsOff + picks * 4;
  const baseOff = Math.ceil((outOff + picks * 4) / 64) * 64;
  const pages = Math.ceil((baseOff + rows * dim * 4) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  fillRandom(new Float32Array(memory.buffer, qOff, dim), dim);
  fillRandom(new Float32Array(memory.buffer, baseOff, rows * dim), dim + 1);
  // A different scattered set every call, as consecutive queries have.
  const offsets = new Uint32Array(sets * picks);
  let x = 12345;
  for (let i = 0; i < offsets.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    offsets[i] = baseOff + (x % rows) * dim * 4;
  }
  const words = new Uint32Array(memory.buffer, offsetsOff, picks);
  let set = 0;
  const nextSet = (): number => {
    set = (set + 1) % sets;
    return set * picks;
  };
  const [scalar, wasm] = [createScalarKernels(memory), createWasmKernels(memory)];
  const caseName = `l2sq ${picks} scattered rows of ${dim}, ${rows} in memory`;
  const samples = measure(
    [
      {
        impl: 'wasm-simd one row per call',
        call: () => {
          const at = nextSet();
          for (let i = 0; i < picks; i++) wasm.l2sq(qOff, offsets[at + i]!, dim, 1, outOff + i * 4);
        },
      },
      {
        impl: 'wasm-simd gather',
        call: () => {
          words.set(offsets.subarray(nextSet(), set * picks + picks));
          wasm.l2sqGather(qOff, offsetsOff, dim, picks, outOff);
        },
      },
      {
        impl: 'scalar gather',
        call: () => {
          words.set(offsets.subarray(nextSet(), set * picks + picks));
          scalar.l2sqGather(qOff, offsetsOff, dim, picks, outOff);
        },
      },
    ],
    picks,
  );
  const oneByOne = median(samples.get('wasm-simd one row per call')!);
  return rowsFor(caseName, samples, (_impl, m) => ({ 'x one per call': m / oneByOne, 'µs per re-rank': (picks / m) * 1e6 }));
}

export async function run(): Promise<BenchRow[]> {
  const usearch = loadUsearch();
  const rows: BenchRow[] = [];
  for (const dim of DIMS) rows.push(...benchDim(dim, usearch));
  rows.push(...benchGather());
  return rows;
}
