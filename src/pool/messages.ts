/**
 * Everything that crosses between the main thread and the query workers. Vectors never
 * cross: workers read them from the shared arena; only query vectors go in (transferred)
 * and one result buffer comes back (transferred).
 */
import type { ScanTarget } from '../vector-index/scan.js';
import type { ScratchLayout } from '../vector-index/layout.js';

/** `workerData` of every pool worker (cloned per worker; the memory is shared, not copied). */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  scratch: ScratchLayout;
  /** 'wasm' (default) or 'scalar' — the scalar reference kernel, for tests and benchmarks. */
  kernel: 'wasm' | 'scalar';
}

export interface SearchTask {
  target: ScanTarget;
  /** nq × dimension, a fresh buffer that is transferred to the worker. */
  queries: Float32Array;
  k: number;
}

/**
 * The worker's answer: one transferred buffer holding nq × k Int32 slots, then nq × k
 * Float32 distances, then one Float64: the seconds the worker spent on the task (the main
 * thread subtracts it from the round trip to get the time the task waited in the queue).
 *
 *   0            4n           8n        8n+8
 *   ├─ slots ────┼─ distances ┼─ runSec ┤
 */
export type SearchReply = ArrayBuffer;

export function packSearchReply(slots: Int32Array, distances: Float32Array, runSeconds: number): ArrayBuffer {
  const out = new ArrayBuffer(slots.byteLength + distances.byteLength + 8);
  new Int32Array(out, 0, slots.length).set(slots);
  new Float32Array(out, slots.byteLength, distances.length).set(distances);
  new Float64Array(out, slots.byteLength + distances.byteLength, 1)[0] = runSeconds;
  return out;
}

export function splitSearchReply(reply: SearchReply, n: number): { slots: Int32Array; distances: Float32Array; runSeconds: number } {
  return { slots: new Int32Array(reply, 0, n), distances: new Float32Array(reply, n * 4, n), runSeconds: new Float64Array(reply, n * 8, 1)[0]! };
}
