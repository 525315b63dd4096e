/**
 * What the main thread asks the graph builder thread to do, and its answer. Vectors never
 * cross: the builder reads them from the shared arena by byte offset.
 */
import type { Metric } from '../persist/ops.js';
import type { ChunkLayout } from '../vector-index/layout.js';
import type { IndexSettings } from '../vector-index/settings.js';
import type { I8Quantizer } from './quantize.js';

/** `workerData` of the builder thread (the memory is shared, not copied). */
export interface BuilderInit {
  memory: WebAssembly.Memory;
  /** Nice value to lower the thread to (Linux; 0: unchanged). */
  nice: number;
  /** BroadcastChannel on which the thread says it has loaded (pool/loaded-workers.ts). */
  loadedChannel: string;
}

export interface BuildJob {
  dimension: number;
  metric: Metric;
  settings: IndexSettings;
  /** Arena byte offset of each node's float32 vector. */
  vectorOffsets: Float64Array;
  /** The graph key of each node: the slot it has in the segment being sealed or built. */
  keys: Float64Array;
  /**
   * For a merge: first copy node i (vector and inverse norm) into slot i of these chunks of
   * the new segment and mark it LIVE. The new segment is not visible to any search yet.
   */
  copy?: { invNormOffsets: Float64Array; chunks: number[]; layout: ChunkLayout };
  /** Where to save the graph (written to a temp name, fsynced, then renamed). */
  path: string;
  /** Threads usearch may use to insert. */
  threads: number;
}

export interface BuildResult {
  nodes: number;
  seconds: number;
  bytes: number;
  /** For an `i8` graph: how its vectors were quantised (quantize.ts); queries are quantised alike. */
  quantizer?: I8Quantizer;
  /** The builder thread's nice value, where it was lowered (Linux). */
  nice?: number;
}
