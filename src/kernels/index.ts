/**
 * Distance kernels over the shared vector arena: a scalar reference and a WebAssembly SIMD
 * variant with the same contract (see types.ts).
 */
import { createScalarKernels } from './scalar.js';
import type { DistanceKernels } from './types.js';
import { createWasmKernels, wasmSimdSupported } from './wasm.js';

export type { DistanceKernels } from './types.js';
export { createScalarKernels } from './scalar.js';
export { createWasmKernels, wasmSimdSupported } from './wasm.js';

/** The fastest kernels this thread can run over `memory`: WASM SIMD when supported, else scalar. */
export function createBestKernels(memory: WebAssembly.Memory): DistanceKernels {
  return wasmSimdSupported() ? createWasmKernels(memory) : createScalarKernels(memory);
}
