/**
 * Pool worker entry: claims a scratch slot in the shared arena once, then answers search
 * tasks with the distance kernel over the shared vectors.
 */
import { move, workerData } from 'piscina';
import { createScalarKernels, createWasmKernels } from '../kernels/index.js';
import { HeaderWord, SCRATCH_CLAIM_WORDS } from '../vector-index/layout.js';
import { Scanner } from '../vector-index/scan.js';
import { packSearchReply, type SearchReply, type SearchTask, type WorkerInit } from './messages.js';

const init = workerData as WorkerInit;

/** Claims the first free bit of the scratch bitmap; a worker keeps its slot for life. */
function claimScratchSlot(memory: WebAssembly.Memory, slots: number): number {
  const header = new Int32Array(memory.buffer as unknown as SharedArrayBuffer, 0, HeaderWord.SCRATCH_CLAIMS + SCRATCH_CLAIM_WORDS);
  for (let slot = 0; slot < slots; slot++) {
    const word = HeaderWord.SCRATCH_CLAIMS + (slot >> 5);
    const bit = 1 << (slot & 31);
    if ((Atomics.or(header, word, bit) & bit) === 0) return slot;
  }
  throw new Error(`no free scratch slot among ${slots}: more workers were started than the arena reserved`);
}

const slot = claimScratchSlot(init.memory, init.scratch.slots);
const base = init.scratch.base + slot * init.scratch.stride;
const kernels = init.kernel === 'scalar' ? createScalarKernels(init.memory) : createWasmKernels(init.memory);
const scanner = new Scanner(init.memory, kernels, {
  queryOffset: base + init.scratch.queryOffset,
  distancesOffset: base + init.scratch.distancesOffset,
});

export default function search(task: SearchTask): SearchReply {
  const started = performance.now();
  const { slots, distances } = scanner.search(task.target, task.queries, task.k);
  return move(packSearchReply(slots, distances, (performance.now() - started) / 1000)) as SearchReply;
}
