/**
 * Reader thread of the reader-epoch test (reader-epochs.test.ts), driven step by step by the main
 * thread through `control` (Atomics.wait/notify at fixed points, no sleeps):
 *   STEP = 1: pin, read the block (its words must all equal `expect`), report PINNED;
 *   STEP = 2: read the block again (it must still be whole), unpin, report DONE.
 * Each report stores the words it read wrong (0 when whole) in BAD.
 *
 * Outside a worker it does nothing (`node --test` runs every file under a test/ folder).
 */
import { workerData } from 'node:worker_threads';
import { ReaderEpochs } from '../../src/vector-index/reader-epochs.js';

export const Control = { STEP: 0, STATE: 1, BAD: 2 } as const;
export const State = { STARTED: 1, PINNED: 2, DONE: 3 } as const;

interface Init {
  memory: WebAssembly.Memory;
  control: Int32Array;
  slot: number;
  block: number;
  words: number;
  expect: number;
}

function bad(init: Init): number {
  const view = new Int32Array(init.memory.buffer as unknown as SharedArrayBuffer, init.block, init.words);
  let n = 0;
  for (const w of view) if (w !== init.expect) n++;
  return n;
}

function report(control: Int32Array, state: number, badWords: number): void {
  Atomics.store(control, Control.BAD, badWords);
  Atomics.store(control, Control.STATE, state);
  Atomics.notify(control, Control.STATE);
}

const init = workerData as Init | null;
if (init) {
  const { control } = init;
  const epochs = new ReaderEpochs(init.memory);
  report(control, State.STARTED, 0);
  Atomics.wait(control, Control.STEP, 0);
  epochs.pin(init.slot);
  report(control, State.PINNED, bad(init));
  Atomics.wait(control, Control.STEP, 1);
  const n = bad(init);
  epochs.unpin(init.slot);
  report(control, State.DONE, n);
}
