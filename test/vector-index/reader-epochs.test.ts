/**
 * Reader epochs in shared memory (reader-epochs.ts) and the reclaimer that honours them: what a
 * reader thread pinned before a retirement is not freed until it unpins; a reader pinned after
 * it, or idle, holds nothing; epochs compare across the 2^32 wrap; a gone reader's word can be
 * cleared. The thread test steps a real worker through fixed points with Atomics.wait/notify.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { Arena } from '../../src/vector-index/arena.js';
import { EPOCH_IDLE, HeaderWord } from '../../src/vector-index/layout.js';
import { ReaderEpochs, after } from '../../src/vector-index/reader-epochs.js';
import { POLL_MS, Reclaimer } from '../../src/vector-index/reclaimer.js';
import { until } from '../helpers/wait.js';
import { Control, State } from './epoch-reader-worker.js';

const MiB = 1024 * 1024;
/** Atomics.waitAsync (Node 16+; not in this TypeScript lib). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { value: Promise<string> | string } }).waitAsync;

function setup(slots = 4): { arena: Arena; epochs: ReaderEpochs; reclaimer: Reclaimer } {
  const arena = new Arena({ maxBytes: 16 * MiB, maxDimension: 8, scratchSlots: slots });
  const epochs = new ReaderEpochs(arena.memory);
  return { arena, epochs, reclaimer: new Reclaimer({ epochs, slots }) };
}

/** Waits (bounded) until `done()`; the reclaimer looks at held retirements every POLL_MS. */
async function polled(done: () => boolean, what: string): Promise<void> {
  assert.ok(await until(done, 10_000, POLL_MS), what);
}

test('a retirement waits for a reader thread pinned before it, and not for one pinned after it or idle', async () => {
  const { epochs, reclaimer } = setup();
  const ran: string[] = [];
  epochs.pin(0);
  reclaimer.retire(() => ran.push('a'));
  epochs.pin(1); // pinned after a's retirement: it cannot have reached what a frees
  assert.equal(ran.length, 0);
  assert.equal(reclaimer.pending, 1);
  epochs.unpin(0);
  await polled(() => ran.length === 1, 'a runs once the reader pinned before it unpinned (no call from it: polled)');
  reclaimer.retire(() => ran.push('b')); // held by slot 1 now
  await sleep(POLL_MS * 5);
  assert.deepEqual(ran, ['a']);
  epochs.unpin(1);
  await polled(() => ran.length === 2, 'b runs');
  reclaimer.retire(() => ran.push('c')); // nobody pinned
  assert.deepEqual(ran, ['a', 'b', 'c']);
});

test('main-thread readers and reader threads both hold a retirement; it runs once neither does, in order', async () => {
  const { epochs, reclaimer } = setup();
  const ran: number[] = [];
  const mine = reclaimer.enter();
  epochs.pin(2);
  reclaimer.retire(() => ran.push(1));
  reclaimer.retire(() => ran.push(2));
  reclaimer.exit(mine);
  assert.equal(ran.length, 0, 'still held by the thread');
  epochs.unpin(2);
  await polled(() => ran.length === 2, 'both run');
  assert.deepEqual(ran, [1, 2]);
  const again = reclaimer.enter();
  reclaimer.retire(() => ran.push(3));
  assert.deepEqual(ran, [1, 2], 'held by the main-thread reader');
  reclaimer.exit(again);
  assert.deepEqual(ran, [1, 2, 3]);
});

test('epochs compare across the 2^32 wrap', () => {
  const { arena, epochs, reclaimer } = setup();
  new Int32Array(arena.memory.buffer as unknown as SharedArrayBuffer)[HeaderWord.GLOBAL_EPOCH] = 2 ** 31 - 3;
  epochs.pin(0); // at 2^31 − 3
  const ran: number[] = [];
  reclaimer.retire(() => ran.push(1)); // at 2^31 − 3; the epoch is now 2^31 − 1
  reclaimer.retire(() => ran.push(2)); // at 2^31 − 1; the epoch wraps to −2^31 + 1
  assert.equal(epochs.current, -(2 ** 31) + 1);
  assert.ok(after(epochs.current, 2 ** 31 - 1));
  assert.notEqual(epochs.current & 1, 0, 'epochs stay odd: never IDLE');
  epochs.pin(1); // past the wrap, after both
  assert.equal(epochs.holds(2 ** 31 - 1, 4), true, 'slot 0 holds them');
  epochs.unpin(0);
  assert.equal(epochs.holds(2 ** 31 - 1, 4), false, 'slot 1, pinned past the wrap, holds neither');
  reclaimer.retire(() => ran.push(3)); // its drain runs 1 and 2; slot 1 holds 3
  assert.deepEqual(ran, [1, 2]);
  epochs.unpin(1);
});

test('a retirement that throws when a poll runs it goes to onError, and the ones after it run', async () => {
  const { epochs, reclaimer } = setup();
  const errors: unknown[] = [];
  reclaimer.onError = (err) => errors.push(err);
  let after = false;
  epochs.pin(0);
  reclaimer.retire(() => {
    throw new Error('bug in a release');
  });
  reclaimer.retire(() => (after = true));
  epochs.unpin(0);
  await polled(() => errors.length === 1 && after, 'reported, and the next one ran');
  assert.match((errors[0] as Error).message, /bug in a release/);
  assert.equal(reclaimer.pending, 0);
});

test('the word of a reader that is gone can be cleared, which lets what it held go', async () => {
  const { epochs, reclaimer } = setup();
  epochs.pin(3);
  let ran = false;
  reclaimer.retire(() => (ran = true));
  assert.equal(ran, false);
  assert.notEqual(epochs.pinnedAt(3), EPOCH_IDLE);
  epochs.clear(3);
  await polled(() => ran, 'runs after the clear');
});

test('a reader thread stepped through fixed points: its pinned block is not freed while it reads, and is freed after', async () => {
  const { arena, epochs, reclaimer } = setup();
  const words = 1024;
  const block = arena.alloc(words * 4);
  const data = new Int32Array(arena.memory.buffer as unknown as SharedArrayBuffer, block, words);
  data.fill(7);
  const control = new Int32Array(new SharedArrayBuffer(16));
  const worker = new Worker(new URL('./epoch-reader-worker.js', import.meta.url), { workerData: { memory: arena.memory, control, slot: 2, block, words, expect: 7 } });
  const state = async (want: number): Promise<void> => {
    while (Atomics.load(control, Control.STATE) !== want) await waitAsync(control, Control.STATE, Atomics.load(control, Control.STATE)).value;
  };
  const step = (n: number): void => {
    Atomics.store(control, Control.STEP, n);
    Atomics.notify(control, Control.STEP);
  };
  try {
    await state(State.STARTED);
    step(1);
    await state(State.PINNED);
    assert.equal(Atomics.load(control, Control.BAD), 0);
    // The block is made unreachable and retired; freeing it poisons it.
    let freed = false;
    reclaimer.retire(() => {
      data.fill(-1);
      freed = true;
    });
    await sleep(POLL_MS * 10); // several polls while the reader stays pinned
    assert.equal(freed, false, 'not freed under a pinned reader');
    step(2);
    await state(State.DONE);
    assert.equal(Atomics.load(control, Control.BAD), 0, 'the reader read it whole to the end');
    await polled(() => freed, 'freed once the reader unpinned');
    assert.equal(epochs.pinnedAt(2), EPOCH_IDLE);
  } finally {
    await worker.terminate();
  }
});
