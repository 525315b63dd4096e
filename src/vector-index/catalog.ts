/**
 * The collection catalog: which directory entry is each collection's current search view, in
 * shared memory, so that a query worker that takes its own requests (the query port) finds it
 * by name without asking the main thread (layout.ts draws it). The main thread is the only
 * writer; it is in the arena, so it lives as long as the shared memory.
 *
 * Publication order, main thread (collection.ts):
 *   store ENTRY (the new entry) → GENERATION = ++CLOCK → retire the old entry (reclaimer)
 * and a reader, pinned (reader-epochs.ts) before it loads anything:
 *   load INCARNATION → load GENERATION → load ENTRY → read the entry → INCARNATION unchanged?
 * The pin comes before the ENTRY it loads, and the old entry is retired after ENTRY moved on, so
 * the entry a reader loaded is not freed while it reads. A reader that saw a GENERATION saw at
 * least the ENTRY stored before it, so an answer cached at a generation was computed from a view
 * at least that new (the per-worker caches key on it; query-port/answer.ts).
 *
 * Every write to a collection publishes a new entry before the write is acknowledged (in a
 * microtask after the write's synchronous step), so an acknowledged write is in the view every
 * later lookup loads.
 */
import type { Arena } from './arena.js';
import type { DirectoryRef } from './directory.js';
import {
  CATALOG_BYTES,
  CATALOG_HEADER_WORDS,
  CATALOG_NAME_BYTES,
  CATALOG_SLOTS,
  CATALOG_SLOT_WORDS,
  CatalogHeaderWord,
  CatalogWord,
  DIRECTORY_HEADER_WORDS,
  DirectoryWord,
} from './layout.js';

const slotWord = (offset: number, slot: number, word: number): number => (offset >>> 2) + CATALOG_HEADER_WORDS + slot * CATALOG_SLOT_WORDS + word;

function nameBytes(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length > CATALOG_NAME_BYTES) throw new Error(`collection name of ${bytes.length} bytes does not fit the catalog (${CATALOG_NAME_BYTES})`);
  return bytes;
}

/** A collection the catalog had no slot for when it was added: it gets the next slot freed. */
export interface CatalogWaiter {
  readonly name: string;
  /** The collection has `slot` now (named, no entry yet): it should publish its current view. */
  slotted(slot: number): void;
}

/** The main thread's side: adds and removes collections, publishes their entries. */
export class Catalog {
  readonly offset: number;
  private readonly free: number[] = [];
  private next = 0;
  /** Collections without a slot, in the order they came: a freed slot goes to the first. */
  private readonly waiting = new Set<CatalogWaiter>();

  constructor(private readonly arena: Arena) {
    this.offset = arena.alloc(CATALOG_BYTES);
  }

  private get i32(): Int32Array {
    return new Int32Array(this.arena.buffer);
  }

  /**
   * A slot for `waiter.name`, or -1 when every slot is taken: the collection is then not served
   * by the query port until a slot is freed, when `waiter.slotted` is called with it.
   */
  add(waiter: CatalogWaiter): number {
    const bytes = nameBytes(waiter.name);
    const slot = this.free.pop() ?? (this.next < CATALOG_SLOTS ? this.next++ : -1);
    if (slot < 0) {
      Atomics.add(this.i32, (this.offset >>> 2) + CatalogHeaderWord.OVERFLOW, 1);
      this.waiting.add(waiter);
      return -1;
    }
    this.name(slot, bytes);
    return slot;
  }

  /** A collection that found no slot is gone. */
  removeUnslotted(waiter: CatalogWaiter): void {
    if (this.waiting.delete(waiter)) Atomics.sub(this.i32, (this.offset >>> 2) + CatalogHeaderWord.OVERFLOW, 1);
  }

  /** Frees the slot (`seatWaiting` gives it to a collection waiting for one); its entry is the caller's to retire (after this). */
  remove(slot: number): void {
    const i32 = this.i32;
    const at = slotWord(this.offset, slot, 0);
    Atomics.store(i32, at + CatalogWord.NAME_BYTES, 0);
    Atomics.store(i32, at + CatalogWord.ENTRY, 0);
    Atomics.add(i32, at + CatalogWord.INCARNATION, 1);
    Atomics.add(i32, (this.offset >>> 2) + CatalogHeaderWord.VERSION, 1);
    this.free.push(slot);
  }

  /**
   * Gives free slots to the collections waiting for one, first come first served: each is named,
   * then publishes its current view, and only then stops counting as unslotted (so a reader that
   * misses it meanwhile is told some collection has no slot, not that it does not exist). Call
   * once a removal is complete, not from inside it.
   */
  seatWaiting(): void {
    for (;;) {
      const next = this.waiting.values().next();
      if (next.done || this.free.length === 0) return;
      const waiter = next.value;
      const slot = this.free.pop()!;
      this.waiting.delete(waiter);
      this.name(slot, nameBytes(waiter.name));
      waiter.slotted(slot);
      Atomics.sub(this.i32, (this.offset >>> 2) + CatalogHeaderWord.OVERFLOW, 1);
    }
  }

  /** Gives the slot a collection's name and a new incarnation, with no entry and generation 0 (not published yet). */
  private name(slot: number, bytes: Buffer): void {
    const i32 = this.i32;
    const at = slotWord(this.offset, slot, 0);
    Buffer.from(this.arena.buffer, (at + CatalogWord.NAME) * 4, CATALOG_NAME_BYTES).fill(0).set(bytes);
    Atomics.store(i32, at + CatalogWord.ENTRY, 0);
    Atomics.store(i32, at + CatalogWord.GENERATION, 0);
    Atomics.store(i32, at + CatalogWord.NAME_BYTES, bytes.length);
    Atomics.add(i32, at + CatalogWord.INCARNATION, 1);
    Atomics.add(i32, (this.offset >>> 2) + CatalogHeaderWord.VERSION, 1);
  }

  /**
   * Makes `entry` the slot's current view (null: none, the arena had no room for it) and moves
   * its generation; the previous entry is the caller's to retire (after this).
   */
  publish(slot: number, entry: DirectoryRef | null): void {
    const i32 = this.i32;
    const at = slotWord(this.offset, slot, 0);
    Atomics.store(i32, at + CatalogWord.ENTRY, entry ? entry.offset | 0 : 0);
    const generation = Atomics.add(i32, (this.offset >>> 2) + CatalogHeaderWord.CLOCK, 1) + 1;
    Atomics.store(i32, at + CatalogWord.GENERATION, generation);
  }
}

/** What a reader found for a collection. */
export interface CatalogView {
  /** null while the arena had no room for the collection's current view. */
  entry: DirectoryRef | null;
  /** Unique over all collections and their re-creations: a cached answer is good while it is unchanged. */
  generation: number;
}

/** Any thread's side. Call `lookup` pinned (reader-epochs.ts), and keep the pin while reading the entry. */
export class CatalogReader {
  /** name → slot, as of `version`. */
  private slots = new Map<string, { slot: number; incarnation: number }>();
  private version = -1;

  constructor(
    private readonly memory: WebAssembly.Memory,
    readonly offset: number,
  ) {}

  /** Whether some live collection found no slot (then a name missing here may still exist). */
  get overflowed(): boolean {
    return Atomics.load(this.words(0), (this.offset >>> 2) + CatalogHeaderWord.OVERFLOW) > 0;
  }

  lookup(name: string): CatalogView | undefined {
    let i32 = this.words(0);
    let known = this.slots.get(name);
    if (!known || Atomics.load(i32, slotWord(this.offset, known.slot, CatalogWord.INCARNATION)) !== known.incarnation) {
      this.rescan(i32);
      known = this.slots.get(name);
      if (!known) return undefined;
    }
    const at = slotWord(this.offset, known.slot, 0);
    const generation = Atomics.load(i32, at + CatalogWord.GENERATION);
    const offset = Atomics.load(i32, at + CatalogWord.ENTRY) >>> 0;
    // Generation 0: named, its first view not published yet (as if the lookup came before the add).
    if (offset === 0) return generation !== 0 && Atomics.load(i32, at + CatalogWord.INCARNATION) === known.incarnation ? { entry: null, generation } : undefined;
    const header = offset >>> 2;
    i32 = this.words((header + DIRECTORY_HEADER_WORDS) * 4);
    const entry: DirectoryRef = { offset, bytes: i32[header + DirectoryWord.BYTES]!, serial: Atomics.load(i32, header + DirectoryWord.SERIAL) };
    // Removed (and perhaps reused) while we loaded: as if the lookup came after the removal.
    if (Atomics.load(i32, at + CatalogWord.INCARNATION) !== known.incarnation) return undefined;
    return { entry, generation };
  }

  /** Rebuilds name → slot when a collection was added or removed since the last scan. */
  private rescan(i32: Int32Array): void {
    const version = Atomics.load(i32, (this.offset >>> 2) + CatalogHeaderWord.VERSION);
    if (version === this.version) return;
    const slots = new Map<string, { slot: number; incarnation: number }>();
    const bytes = Buffer.from(i32.buffer, 0, i32.byteLength);
    for (let slot = 0; slot < CATALOG_SLOTS; slot++) {
      const at = slotWord(this.offset, slot, 0);
      const incarnation = Atomics.load(i32, at + CatalogWord.INCARNATION);
      if (incarnation === 0) break; // slots are taken in order: none after this one was ever used
      const length = Atomics.load(i32, at + CatalogWord.NAME_BYTES);
      if (length === 0) continue;
      const name = bytes.toString('utf8', (at + CatalogWord.NAME) * 4, (at + CatalogWord.NAME) * 4 + length);
      // Changed while we read it: the next lookup scans again.
      if (Atomics.load(i32, at + CatalogWord.INCARNATION) !== incarnation) continue;
      slots.set(name, { slot, incarnation });
    }
    this.slots = slots;
    // Only a scan that saw no change in between may be trusted to stay current.
    this.version = Atomics.load(i32, (this.offset >>> 2) + CatalogHeaderWord.VERSION) === version ? version : -1;
  }

  /**
   * A view of the memory reaching byte `end`. A grown memory has a new, longer buffer, but the
   * old one stays a valid view of the bytes it covers, so `memory.buffer` (costly) is asked only past them.
   */
  private words(end: number): Int32Array {
    if (this.i32 === undefined || end > this.i32.byteLength) {
      this.i32 = new Int32Array(this.memory.buffer as unknown as SharedArrayBuffer);
      if (end > this.i32.byteLength) {
        this.memory.grow(0); // this thread's view may lag another thread's growth
        this.i32 = new Int32Array(this.memory.buffer as unknown as SharedArrayBuffer);
      }
    }
    return this.i32;
  }

  private i32: Int32Array | undefined;
}
