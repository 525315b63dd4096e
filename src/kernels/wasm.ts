/**
 * The WebAssembly SIMD kernels (src/kernels/distance.wat, built to distance.wasm beside this
 * file). The module is compiled once per thread and instantiated per memory: instances are
 * cheap, and each worker imports the same shared arena, so all of them read the vectors in
 * place.
 */
import { HotvecError } from '../errors.js';
import { builtWasmModule } from '../platform/wasm-module.js';
import { checkBatch, checkGather, type DistanceKernels } from './types.js';

type BatchFn = (qOff: number, baseOff: number, dim: number, n: number, outOff: number) => void;

/**
 * The smallest module that uses a SIMD instruction: one function returning `v128.const 0`.
 * Hand-assembled so the probe does not depend on the built .wasm being present.
 */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, // code section: one body of 20 bytes, no locals
  0xfd, 0x0c, ...new Array<number>(16).fill(0), // v128.const 0
  0x0b, // end
]);

let simdSupported: boolean | undefined;

/**
 * Whether this thread can run the WASM kernels: WebAssembly SIMD and shared memories.
 * (Node ≥ 16.4 has both; the check is for exotic builds and flags like --no-experimental-wasm-simd.)
 */
export function wasmSimdSupported(): boolean {
  if (simdSupported === undefined) {
    try {
      simdSupported =
        typeof SharedArrayBuffer === 'function' &&
        WebAssembly.validate(SIMD_PROBE) &&
        new WebAssembly.Memory({ initial: 0, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
    } catch {
      simdSupported = false;
    }
  }
  return simdSupported;
}

const distanceModule = (): WebAssembly.Module => builtWasmModule(new URL('./distance.wasm', import.meta.url));

/**
 * Kernels running in WebAssembly over `memory`, which must be a shared memory (the module
 * imports `env.memory` as shared). Offsets need no alignment.
 */
export function createWasmKernels(memory: WebAssembly.Memory): DistanceKernels {
  if (!(memory.buffer instanceof SharedArrayBuffer)) {
    throw new HotvecError('INTERNAL', 'createWasmKernels needs a WebAssembly.Memory created with shared: true');
  }
  const instance = new WebAssembly.Instance(distanceModule(), { env: { memory } });
  const l2sqBatch = instance.exports['l2sq_batch'] as BatchFn;
  const dotBatch = instance.exports['dot_batch'] as BatchFn;
  const l2sqGather = instance.exports['l2sq_gather'] as BatchFn;
  const dotGather = instance.exports['dot_gather'] as BatchFn;

  // Memories only grow, so a cached view's length is a safe lower bound; the view is renewed
  // only when a call reaches past it, which keeps the common call free of the `buffer` getter.
  // The gathers also read their row offsets through it.
  let view: DataView<ArrayBufferLike> = new DataView(memory.buffer);
  const gatherMemory = {
    view: () => view,
    renewed: () => (view = new DataView(memory.buffer)),
  };
  const check = (kernel: string, q: number, base: number, dim: number, n: number, out: number): void => {
    if (Math.max(q + dim * 4, base + n * dim * 4, out + n * 4) > view.byteLength) gatherMemory.renewed();
    checkBatch(kernel, view.byteLength, q, base, dim, n, out);
  };
  return {
    name: 'wasm-simd',
    l2sq(q, base, dim, n, out) {
      check('l2sq', q, base, dim, n, out);
      l2sqBatch(q, base, dim, n, out);
    },
    dot(q, base, dim, n, out) {
      check('dot', q, base, dim, n, out);
      dotBatch(q, base, dim, n, out);
    },
    l2sqGather(q, offsets, dim, n, out) {
      checkGather('l2sqGather', gatherMemory, q, offsets, dim, n, out);
      l2sqGather(q, offsets, dim, n, out);
    },
    dotGather(q, offsets, dim, n, out) {
      checkGather('dotGather', gatherMemory, q, offsets, dim, n, out);
      dotGather(q, offsets, dim, n, out);
    },
  };
}
