/**
 * The graph builder thread: gathers a segment's vectors out of the shared arena (usearch
 * refuses SharedArrayBuffer-backed arrays, so they are copied into private memory), inserts
 * them into a new usearch HNSW index and saves it durably. Runs off the request path; the
 * query workers later memory-map the file.
 */
import { closeSync, fsyncSync, openSync, renameSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { workerData } from 'piscina';
import { CHUNK_SLOTS, SlotState } from '../vector-index/layout.js';
import { lowerThreadPriority } from '../platform/priority.js';
import { reportLoaded } from '../pool/loaded-workers.js';
import type { BuilderInit, BuildJob, BuildResult } from './build-job.js';
import { fitI8, quantizeI8 } from './quantize.js';
import { newIndex } from './usearch.js';

const { memory, nice, loadedChannel } = workerData as BuilderInit;
// Before any build: usearch's insert threads are started from this one and inherit its nice value.
const niceInEffect = nice > 0 ? lowerThreadPriority(nice) : undefined;

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export default function build(job: BuildJob): BuildResult {
  const started = performance.now();
  const buf = memory.buffer as unknown as SharedArrayBuffer;
  const f32 = new Float32Array(buf);
  const dim = job.dimension;
  const n = job.keys.length;
  const vectors = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const at = job.vectorOffsets[i]! / 4;
    vectors.set(f32.subarray(at, at + dim), i * dim);
  }
  if (job.copy) {
    const { chunks, layout, invNormOffsets } = job.copy;
    const u8 = new Uint8Array(buf);
    for (let i = 0; i < n; i++) {
      const chunk = chunks[Math.floor(i / CHUNK_SLOTS)]!;
      const index = i % CHUNK_SLOTS;
      f32.set(vectors.subarray(i * dim, (i + 1) * dim), (chunk + layout.vectorsOffset + index * dim * 4) / 4);
      f32[(chunk + layout.invNormOffset + index * 4) / 4] = f32[invNormOffsets[i]! / 4]!;
      u8[chunk + layout.stateOffset + index] = SlotState.LIVE;
    }
  }
  const index = newIndex(dim, job.metric, job.settings);
  // l2 i8 graphs get hotvec's quantiser; cosine ones usearch's own cast (unit length × 127), which suits them (quantize.ts).
  const quantizer = job.settings.storage === 'i8' && job.metric === 'l2' ? fitI8(vectors, dim) : undefined;
  if (n > 0) index.add(BigUint64Array.from(job.keys, (k) => BigInt(k)), quantizer ? quantizeI8(vectors, quantizer) : vectors, job.threads);
  const temp = `${job.path}.tmp`;
  index.save(temp);
  fsyncFile(temp);
  renameSync(temp, job.path);
  fsyncFile(dirname(job.path)); // the rename itself must survive a power loss
  return { nodes: n, seconds: (performance.now() - started) / 1000, bytes: statSync(job.path).size, ...(quantizer ? { quantizer } : {}), ...(niceInEffect === undefined ? {} : { nice: niceInEffect }) };
}

// Last: from here on the builder may terminate this thread safely.
reportLoaded(loadedChannel, {});
