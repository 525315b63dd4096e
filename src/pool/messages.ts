/**
 * Everything that crosses between the main thread and the query workers. Vectors never
 * cross: workers read them from the shared arena, and the collection's segments from its
 * directory entry there; only query vectors go in (transferred) and one result buffer comes
 * back (transferred).
 */
import type { DirectoryRef } from '../vector-index/directory.js';
import type { SearchOptions } from '../vector-index/scan.js';
import type { ScratchLayout } from '../vector-index/layout.js';
import type { ModuleLoaded } from './loaded-workers.js';
import type { QueryPortInit } from '../query-port/messages.js';

/** `workerData` of every pool worker (cloned per worker; the memory is shared, not copied). */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  scratch: ScratchLayout;
  /** 'wasm' (default) or 'scalar' — the scalar reference kernel, for tests and benchmarks. */
  kernel: 'wasm' | 'scalar';
  /** Run under SCHED_BATCH (Linux; see platform/priority.ts). */
  schedBatch: boolean;
  /** BroadcastChannel (one per pool) on which a worker says it has loaded: a `WorkerLoaded` (loaded-workers.ts). */
  loadedChannel: string;
  /** Serve the query port too (query-port/server.ts). */
  queryPort?: QueryPortInit;
}

export interface WorkerLoaded extends ModuleLoaded {
  /** The worker runs under SCHED_BATCH (it asked, and the policy took effect). */
  schedBatch: boolean;
  /** The scratch slot it claimed; its reader-epoch word is the same slot's (reader-epochs.ts). */
  slot: number;
  /** With a query port: whether this worker listens on it. */
  queryPort?: boolean;
}

export interface SearchTask {
  /** The collection's search view, read by the worker from the shared arena (directory.ts). */
  directory: DirectoryRef;
  /** nq × dimension, a fresh buffer that is transferred to the worker. */
  queries: Float32Array;
  k: number;
  options: SearchOptions;
  /** Bytes of the shared memory when the task was sent: every offset the task names lies below. */
  memoryBytes: number;
}

/** Name of the BroadcastChannel on which the main thread tells workers a graph file was retired. */
export const GRAPH_CHANNEL = 'hotvec:graphs';
export interface GraphRetired {
  forget: string;
}

/**
 * The worker's answer: one transferred buffer holding nq × k Float64 refs (segment index ×
 * 2^32 + slot), then one Float64: the seconds the worker spent on the task (the main thread
 * subtracts it from the round trip to get the time the task waited in the queue), then
 * nq × k Float32 distances.
 *
 *   0            8n         8n+8        12n+8
 *   ├─ refs ─────┼─ runSec ─┼─ distances ┤
 */
export type SearchReply = ArrayBuffer;

export function packSearchReply(refs: Float64Array, distances: Float32Array, runSeconds: number): ArrayBuffer {
  const n = refs.length;
  const out = new ArrayBuffer(n * 12 + 8);
  new Float64Array(out, 0, n).set(refs);
  new Float64Array(out, n * 8, 1)[0] = runSeconds;
  new Float32Array(out, n * 8 + 8, n).set(distances);
  return out;
}

export function splitSearchReply(reply: SearchReply, n: number): { refs: Float64Array; distances: Float32Array; runSeconds: number } {
  return { refs: new Float64Array(reply, 0, n), runSeconds: new Float64Array(reply, n * 8, 1)[0]!, distances: new Float32Array(reply, n * 8 + 8, n) };
}
