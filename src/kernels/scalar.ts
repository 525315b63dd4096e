/**
 * The scalar JavaScript reference for every kernel: plain loops, float64 accumulation (JS
 * numbers), nothing clever. Tests hold the SIMD kernels to it, benchmarks measure against
 * it, and it is the fallback where WebAssembly SIMD is missing.
 *
 * Offsets that are all multiples of 4 read through a Float32Array (the fast path); any other
 * offset falls back to a DataView, which is slower but gives the same answers, so callers
 * need not care about alignment.
 */
import { checkBatch, checkGather, type DistanceKernels, type GatherMemory } from './types.js';

type Batch = DistanceKernels['l2sq'];

/** Float32Array is host-endian; the arena is little-endian, so the fast path needs an LE host. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function createScalarKernels(memory: WebAssembly.Memory): DistanceKernels {
  let buffer = memory.buffer;
  let f32 = new Float32Array(buffer);
  let view = new DataView(buffer);

  /**
   * Views are fixed-length: after `grow()` a shared memory hands out a new, longer buffer
   * (an unshared one detaches the old). Re-create the views only when the length changed.
   */
  const refresh = (): number => {
    const current = memory.buffer;
    if (current.byteLength !== buffer.byteLength) {
      buffer = current;
      f32 = new Float32Array(buffer);
      view = new DataView(buffer);
    }
    return buffer.byteLength;
  };

  const fastPath = (q: number, base: number, out: number): boolean => LITTLE_ENDIAN && q % 4 === 0 && base % 4 === 0 && out % 4 === 0;

  const l2sq: Batch = (q, base, dim, n, out) => {
    checkBatch('l2sq', refresh(), q, base, dim, n, out);
    if (fastPath(q, base, out)) {
      const a = f32;
      const qi = q / 4;
      const oi = out / 4;
      for (let i = 0, bi = base / 4; i < n; i++, bi += dim) {
        let s = 0;
        for (let j = 0; j < dim; j++) {
          const d = a[qi + j] - a[bi + j];
          s += d * d;
        }
        a[oi + i] = s;
      }
    } else {
      const v = view;
      const stride = dim * 4;
      for (let i = 0, row = base; i < n; i++, row += stride) {
        let s = 0;
        for (let j = 0; j < stride; j += 4) {
          const d = v.getFloat32(q + j, true) - v.getFloat32(row + j, true);
          s += d * d;
        }
        v.setFloat32(out + i * 4, s, true);
      }
    }
  };

  const dot: Batch = (q, base, dim, n, out) => {
    checkBatch('dot', refresh(), q, base, dim, n, out);
    if (fastPath(q, base, out)) {
      const a = f32;
      const qi = q / 4;
      const oi = out / 4;
      for (let i = 0, bi = base / 4; i < n; i++, bi += dim) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += a[qi + j] * a[bi + j];
        a[oi + i] = s;
      }
    } else {
      const v = view;
      const stride = dim * 4;
      for (let i = 0, row = base; i < n; i++, row += stride) {
        let s = 0;
        for (let j = 0; j < stride; j += 4) s += v.getFloat32(q + j, true) * v.getFloat32(row + j, true);
        v.setFloat32(out + i * 4, s, true);
      }
    }
  };

  // The reference for the gathers: the batch kernel, one row at a time.
  const gatherMemory: GatherMemory = { view: () => view, renewed: () => (refresh(), view) };
  const gather = (kernel: string, batch: Batch, q: number, offsets: number, dim: number, n: number, out: number): void => {
    refresh();
    checkGather(kernel, gatherMemory, q, offsets, dim, n, out);
    for (let i = 0; i < n; i++) batch(q, view.getUint32(offsets + i * 4, true), dim, 1, out + i * 4);
  };

  return {
    name: 'scalar',
    l2sq,
    dot,
    l2sqGather: (q, offsets, dim, n, out) => gather('l2sqGather', l2sq, q, offsets, dim, n, out),
    dotGather: (q, offsets, dim, n, out) => gather('dotGather', dot, q, offsets, dim, n, out),
  };
}
