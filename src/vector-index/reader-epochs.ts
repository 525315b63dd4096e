/**
 * Epochs of the threads that read shared structures (segments, chunks, slots), kept in the
 * arena header so that any thread can announce its reads and the main thread can see them
 * (layout.ts: GLOBAL_EPOCH, READER_EPOCHS). The main thread frees what it retired at epoch r
 * only once no reader is pinned at r or before (see reclaimer.ts).
 *
 * Protocol (every access an Atomics operation, so sequentially consistent):
 *   reader:  pin: store READER_EPOCHS[slot] = load GLOBAL_EPOCH; then read shared structures;
 *            unpin: store READER_EPOCHS[slot] = IDLE.
 *   main:    make the structure unreachable (publish its replacement); then r = GLOBAL_EPOCH,
 *            GLOBAL_EPOCH += 2; free it once every READER_EPOCHS word is IDLE or pinned after r.
 * A reader that saw GLOBAL_EPOCH after the advance reached the structure after it was
 * unreachable, so it cannot hold it. A reader whose pin the main thread did not yet see stores
 * its pin after that check, so after the structure became unreachable: it cannot hold it either.
 * This holds only when the reader finds the structure *after* pinning, through an Atomics load
 * of what the main thread published with an Atomics store. Today's query tasks name their
 * directory entry in the task (chosen before the worker pins), so what protects them is the
 * main thread's own enter/exit around the task; the workers' pins matter once a worker looks up
 * a collection's current entry itself.
 *
 * Epochs wrap around 2^32 (compared by their difference), so a reader may stay pinned across
 * at most 2^30 retirements; GLOBAL_EPOCH stays odd so that no epoch is IDLE.
 *
 * One word per scratch slot: a query worker pins in the word of the scratch slot it claimed. A
 * thread that is gone leaves its word as it was; the pool clears it (`clear`).
 */
import { EPOCH_IDLE, HeaderWord, MAX_SCRATCH_SLOTS } from './layout.js';

/** Whether epoch `a` comes after epoch `b` (wrapping). */
export const after = (a: number, b: number): boolean => ((a - b) | 0) > 0;

export class ReaderEpochs {
  private readonly words: Int32Array;

  constructor(memory: WebAssembly.Memory) {
    // The header's words are below any growth: a view of the buffer at hand covers them for good.
    this.words = new Int32Array(memory.buffer as unknown as SharedArrayBuffer, 0, HeaderWord.READER_EPOCHS + MAX_SCRATCH_SLOTS);
    Atomics.compareExchange(this.words, HeaderWord.GLOBAL_EPOCH, 0, 1); // a fresh arena starts at 1
  }

  /** Reader side: the structures this thread reads from now on are not freed until `unpin`. */
  pin(slot: number): void {
    Atomics.store(this.words, HeaderWord.READER_EPOCHS + slot, Atomics.load(this.words, HeaderWord.GLOBAL_EPOCH));
  }

  unpin(slot: number): void {
    Atomics.store(this.words, HeaderWord.READER_EPOCHS + slot, EPOCH_IDLE);
  }

  /** Main thread: the epoch now (what a retirement made now is tagged with, and what a main-thread reader enters at). */
  get current(): number {
    return Atomics.load(this.words, HeaderWord.GLOBAL_EPOCH);
  }

  /** Main thread, after making something unreachable: returns the epoch to retire it at and moves on. */
  advance(): number {
    return Atomics.add(this.words, HeaderWord.GLOBAL_EPOCH, 2);
  }

  /** Whether some reader among the first `slots` is pinned at `epoch` or before it. */
  holds(epoch: number, slots: number): boolean {
    for (let i = 0; i < slots; i++) {
      const e = Atomics.load(this.words, HeaderWord.READER_EPOCHS + i);
      if (e !== EPOCH_IDLE && !after(e, epoch)) return true;
    }
    return false;
  }

  /** Main thread: the reader of `slot` is gone (its thread exited, perhaps pinned). */
  clear(slot: number): void {
    this.unpin(slot);
  }

  /** The word of `slot`, for tests and diagnostics. */
  pinnedAt(slot: number): number {
    return Atomics.load(this.words, HeaderWord.READER_EPOCHS + slot);
  }
}
