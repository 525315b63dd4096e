/**
 * Exact k-NN over one collection's chunks in the shared arena (runs in a worker; also
 * callable on the main thread in tests). Reads the published count with Atomics (acquire),
 * snapshots each chunk's slot states before reading its vectors, and keeps the top k.
 */
import type { DistanceKernels } from '../kernels/types.js';
import type { Metric } from '../persist/ops.js';
import { CHUNK_SLOTS, DescriptorWord, SlotState, chunkLayout } from './layout.js';
import { TopK } from './topk.js';

/** What a worker needs to scan a collection: offsets only, no vectors. */
export interface ScanTarget {
  descriptorOffset: number;
  chunks: number[];
  dimension: number;
  metric: Metric;
}

export interface ScanResult {
  /** nq × k slots, ascending distance per query, -1 where fewer than k matched. */
  slots: Int32Array;
  /** nq × k distances (NaN where slot is -1). */
  distances: Float32Array;
}

export interface Scratch {
  queryOffset: number;
  distancesOffset: number;
}

export class Scanner {
  private readonly topk = new TopK();
  private states = new Uint8Array(CHUNK_SLOTS);
  private buffer: SharedArrayBuffer | null = null;
  private f32!: Float32Array;
  private u8!: Uint8Array;
  private i32!: Int32Array;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly kernels: DistanceKernels,
    private readonly scratch: Scratch,
  ) {}

  /** Views must follow the memory when another thread grew it. */
  private views(): void {
    const buf = this.memory.buffer as unknown as SharedArrayBuffer;
    if (buf !== this.buffer && (this.buffer === null || buf.byteLength !== this.buffer.byteLength)) {
      this.buffer = buf;
      this.f32 = new Float32Array(buf);
      this.u8 = new Uint8Array(buf);
      this.i32 = new Int32Array(buf);
    }
  }

  search(target: ScanTarget, queries: Float32Array, k: number): ScanResult {
    this.views();
    const { dimension: dim, metric, chunks } = target;
    const nq = queries.length / dim;
    const published = Atomics.load(this.i32, (target.descriptorOffset >> 2) + DescriptorWord.COUNT);
    const count = Math.min(published, chunks.length * CHUNK_SLOTS);
    const layout = chunkLayout(dim);
    const slots = new Int32Array(nq * k);
    const distances = new Float32Array(nq * k);
    const { f32, u8, states, topk, kernels } = this;
    const qOff = this.scratch.queryOffset;
    const outOff = this.scratch.distancesOffset;
    const outIdx = outOff >> 2;

    for (let q = 0; q < nq; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      f32.set(query, qOff >> 2);
      let qInv = 0;
      if (metric === 'cosine') {
        let s = 0;
        for (let j = 0; j < dim; j++) s += query[j]! * query[j]!;
        qInv = s > 0 ? 1 / Math.sqrt(s) : 0;
      }
      topk.reset(k);
      for (let c = 0; c * CHUNK_SLOTS < count; c++) {
        const base = chunks[c]!;
        const n = Math.min(CHUNK_SLOTS, count - c * CHUNK_SLOTS);
        const stateAt = base + layout.stateOffset;
        let live = 0;
        for (let i = 0; i < n; i++) live += states[i] = Atomics.load(u8, stateAt + i);
        if (live === 0) continue;
        if (metric === 'l2') kernels.l2sq(qOff, base + layout.vectorsOffset, dim, n, outOff);
        else kernels.dot(qOff, base + layout.vectorsOffset, dim, n, outOff);
        const invAt = (base + layout.invNormOffset) >> 2;
        const slot0 = c * CHUNK_SLOTS;
        for (let i = 0; i < n; i++) {
          if (states[i] !== SlotState.LIVE) continue;
          const raw = f32[outIdx + i]!;
          const d = metric === 'l2' ? raw : metric === 'ip' ? 1 - raw : 1 - raw * qInv * f32[invAt + i]!;
          if (d < topk.threshold) topk.push(d, slot0 + i);
        }
      }
      topk.drainSorted(slots, distances, q * k);
    }
    return { slots, distances };
  }
}
