/**
 * k-NN over one collection's segments (runs in a worker; also callable on the main thread in
 * tests). Growing and frozen segments — and every segment when the query asks `exact` — are
 * scanned exactly with the distance kernel; sealed segments are searched through their HNSW
 * graph and the candidates re-ranked with the exact float32 vectors from the arena, so every
 * distance returned is exact and comparable across segments. One top-k merges them all.
 *
 * Reads the published count with Atomics (acquire) and snapshots each chunk's slot states
 * before reading its vectors; graph candidates are checked against their state byte, which is
 * how tombstones in sealed segments are honoured.
 */
import type { DistanceKernels } from '../kernels/types.js';
import type { GraphViews } from '../graph/views.js';
import type { DirectoryBody } from './directory.js';
import { REF_SEGMENT } from './collection.js';
import { CHUNK_SLOTS, DescriptorWord, GATHER_ROWS, SlotState, chunkLayout, type ChunkLayout } from './layout.js';
import type { SegmentTarget } from './segment.js';
import type { StorageKind } from './settings.js';
import { TopK } from './topk.js';

/**
 * How many candidates to ask a graph for, to be re-ranked exactly: k, more when a fraction of
 * its nodes are dead, and more when the graph stores vectors lossily (its order is only nearly
 * the exact order, and the re-rank can only restore neighbours that came back): k more for f16,
 * and for i8 every candidate the search expands (ef), at least 3k more — usearch's search costs
 * what its ef costs whatever k, and int8's coarse steps reorder near-equidistant neighbours.
 * Measured (l2, k 10, M 16–32): the benchmark's clustered data at 60,000 × 784, i8 with k extra
 * candidates recall@10 0.983–0.992, with 3k 0.998–1.000; native-bench's isotropic noise around
 * 64 centres at 20,000 × 784, i8 with 20 / 40 / 80 candidates 0.68 / 0.87 / 0.97 (f16: 0.999).
 */
export function graphCandidates(k: number, ef: number, storage: StorageKind, liveFraction = 1): number {
  const wanted = Math.ceil(k / liveFraction);
  if (storage === 'f32') return wanted;
  if (storage === 'f16') return wanted + k;
  return Math.max(wanted + 3 * k, ef);
}

export interface SearchOptions {
  /** HNSW search expansion; the collection's efSearch when absent. */
  ef?: number;
  /** Scan every segment exactly, ignoring the graphs. */
  exact?: boolean;
}

export interface ScanResult {
  /** nq × k refs (segment index × 2^32 + slot), ascending distance per query, -1 where fewer than k matched. */
  refs: Float64Array;
  /** nq × k distances (NaN where ref is -1). */
  distances: Float32Array;
}

export interface Scratch {
  queryOffset: number;
  distancesOffset: number;
}

export class Scanner {
  private readonly topk = new TopK();
  private states = new Uint8Array(CHUNK_SLOTS);
  private f32!: Float32Array;
  private u8: Uint8Array = new Uint8Array(0);
  private i32!: Int32Array;
  private u32!: Uint32Array;
  /** Per graph candidate: 1 when its slot was live. */
  private live = new Uint8Array(0);
  /** The slots whose rows are in the gather's offsets. */
  private readonly gathered = new Int32Array(GATHER_ROWS);

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly kernels: DistanceKernels,
    private readonly scratch: Scratch,
    /** Needed only for sealed segments. */
    private readonly graphs?: GraphViews,
  ) {}

  /** Views must follow the memory when another thread grew it (compared by length). */
  private views(): void {
    const buf = this.memory.buffer as unknown as SharedArrayBuffer;
    if (buf.byteLength !== this.u8.length) {
      this.f32 = new Float32Array(buf);
      this.u8 = new Uint8Array(buf);
      this.i32 = new Int32Array(buf);
      this.u32 = new Uint32Array(buf);
    }
  }

  search(target: DirectoryBody, queries: Float32Array, k: number, options: SearchOptions = {}): ScanResult {
    this.views();
    const { dimension: dim, metric } = target;
    const nq = queries.length / dim;
    const layout = chunkLayout(dim);
    const refs = new Float64Array(nq * k);
    const distances = new Float32Array(nq * k);
    const qOff = this.scratch.queryOffset;
    const ef = options.ef ?? target.settings.efSearch;

    for (let q = 0; q < nq; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim);
      this.f32.set(query, qOff >>> 2);
      let qInv = 0;
      if (metric === 'cosine') {
        let s = 0;
        for (let j = 0; j < dim; j++) s += query[j]! * query[j]!;
        qInv = s > 0 ? 1 / Math.sqrt(s) : 0;
      }
      this.topk.reset(k);
      target.segments.forEach((seg, i) => {
        const base = i * REF_SEGMENT;
        if (seg.graph && !options.exact) this.searchGraph(target, seg, layout, query, qInv, k, ef, base);
        else this.scanExact(target, seg, layout, qInv, base);
      });
      this.topk.drainSorted(refs, distances, q * k);
    }
    return { refs, distances };
  }

  /** Exact distance of the query in scratch to n contiguous rows, per the metric. */
  private distance(metric: DirectoryBody['metric'], raw: number, qInv: number, invNorm: number): number {
    return metric === 'l2' ? raw : metric === 'ip' ? 1 - raw : 1 - raw * qInv * invNorm;
  }

  private scanExact(target: DirectoryBody, seg: SegmentTarget, layout: ChunkLayout, qInv: number, refBase: number): void {
    const { f32, u8, states, topk, kernels } = this;
    const { dimension: dim, metric } = target;
    const published = Atomics.load(this.i32, (seg.descriptorOffset >>> 2) + DescriptorWord.COUNT);
    const count = Math.min(published, seg.chunks.length * CHUNK_SLOTS);
    const qOff = this.scratch.queryOffset;
    const outOff = this.scratch.distancesOffset;
    const outIdx = outOff >>> 2;
    for (let c = 0; c * CHUNK_SLOTS < count; c++) {
      const base = seg.chunks[c]!;
      const n = Math.min(CHUNK_SLOTS, count - c * CHUNK_SLOTS);
      const stateAt = base + layout.stateOffset;
      let live = 0;
      for (let i = 0; i < n; i++) live += states[i] = Atomics.load(u8, stateAt + i);
      if (live === 0) continue;
      if (metric === 'l2') kernels.l2sq(qOff, base + layout.vectorsOffset, dim, n, outOff);
      else kernels.dot(qOff, base + layout.vectorsOffset, dim, n, outOff);
      const invAt = (base + layout.invNormOffset) >>> 2;
      const slot0 = refBase + c * CHUNK_SLOTS;
      for (let i = 0; i < n; i++) {
        if (states[i] !== SlotState.LIVE) continue;
        const d = this.distance(metric, f32[outIdx + i]!, qInv, f32[invAt + i]!);
        if (d < topk.threshold) topk.push(d, slot0 + i);
      }
    }
  }

  /** Whether a graph node's slot is live; a key past the segment's chunks (none should be) is not. */
  private liveAt(seg: SegmentTarget, layout: ChunkLayout, slot: number): boolean {
    const chunk = seg.chunks[Math.floor(slot / CHUNK_SLOTS)];
    if (chunk === undefined) return false;
    return Atomics.load(this.u8, chunk + layout.stateOffset + (slot % CHUNK_SLOTS)) === SlotState.LIVE;
  }

  /**
   * HNSW candidates, filtered by state and re-ranked exactly. Asks the graph for more than k
   * when the segment has dead nodes (or stores vectors lossily), and again for more when too
   * few live candidates came back.
   */
  private searchGraph(
    target: DirectoryBody,
    seg: SegmentTarget,
    layout: ChunkLayout,
    query: Float32Array,
    qInv: number,
    k: number,
    ef: number,
    refBase: number,
  ): void {
    if (!this.graphs) throw new Error('this scanner has no graph views: sealed segments cannot be searched');
    const graph = seg.graph!;
    if (graph.nodes === 0 || graph.nodes === graph.dead) return;
    const { f32, topk, kernels } = this;
    const { dimension: dim, metric, settings } = target;
    const qOff = this.scratch.queryOffset;
    const liveFraction = Math.max(0.05, (graph.nodes - graph.dead) / Math.max(1, graph.nodes));
    let want = Math.min(graph.nodes, graphCandidates(k, ef, settings.storage, liveFraction));
    for (;;) {
      const hits = this.graphs.search(graph.path, dim, metric, settings, Math.max(ef, want), query, want, graph.quantizer);
      if (this.live.length < hits.count) this.live = new Uint8Array(hits.count);
      const live = this.live;
      let found = 0;
      for (let i = 0; i < hits.count; i++) found += live[i] = this.liveAt(seg, layout, Number(hits.keys[i]!)) ? 1 : 0;
      if (found >= k || want >= graph.nodes || hits.count < want) {
        // The live candidates' rows, up to GATHER_ROWS per kernel call (rows scattered over the
        // arena: the gather reads several at once).
        const { u32, gathered } = this;
        const offsetsIdx = this.scratch.distancesOffset >>> 2;
        const outIdx = offsetsIdx + GATHER_ROWS;
        for (let i = 0; i < hits.count; ) {
          let n = 0;
          for (; i < hits.count && n < GATHER_ROWS; i++) {
            if (live[i] === 0) continue;
            const slot = Number(hits.keys[i]!);
            gathered[n] = slot;
            u32[offsetsIdx + n++] = seg.chunks[Math.floor(slot / CHUNK_SLOTS)]! + layout.vectorsOffset + (slot % CHUNK_SLOTS) * dim * 4;
          }
          if (n === 0) break;
          if (metric === 'l2') kernels.l2sqGather(qOff, offsetsIdx * 4, dim, n, outIdx * 4);
          else kernels.dotGather(qOff, offsetsIdx * 4, dim, n, outIdx * 4);
          for (let g = 0; g < n; g++) {
            const slot = gathered[g]!;
            const invNormAt = (seg.chunks[Math.floor(slot / CHUNK_SLOTS)]! + layout.invNormOffset) >>> 2;
            const d = this.distance(metric, f32[outIdx + g]!, qInv, f32[invNormAt + (slot % CHUNK_SLOTS)]!);
            if (d < topk.threshold) topk.push(d, refBase + slot);
          }
        }
        return;
      }
      want = Math.min(graph.nodes, want * 4);
    }
  }
}
