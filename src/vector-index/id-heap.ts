/**
 * Record ids in the shared arena, so that any thread can turn a search result (segment, slot)
 * into its id. Each chunk carries one id entry per slot (layout.ts); an entry points into an id
 * page, where the ids' UTF-8 bytes are appended. The main thread writes (`IdHeap`, one per
 * collection); any thread reads (`IdReader`). An entry and its bytes are written before the slot
 * is published (COUNT, Atomics.store: release), so a reader that loaded COUNT sees them.
 *
 * Lifetime: ids follow their chunks. Every page counts the chunks that point into it and every
 * chunk knows its pages; a page is freed once no chunk points into it and it is not the page
 * being filled. So a merge over chunks (`CollectionStore.spanning`), which takes over its
 * sources' chunks, takes their ids with them; a compacting merge writes the ids it copies anew.
 * Each collection fills its own pages (a quiet collection cannot pin a busy one's pages), and
 * every page has the same size, so the arena reuses freed ones.
 *
 * All or nothing: `reserve(bytes)` sets pages aside for a batch's ids before the WAL sees the
 * batch, as its chunks are reserved, so `put` does not fail half-way through a batch. (`put`
 * without a reservation allocates a page itself, and may then fail with INDEX_FULL.)
 */
import type { Arena } from './arena.js';
import { ID_ENTRY_BYTES, ID_PAGE_BYTES, IdEntryWord, MAX_ID_BYTES, type ChunkLayout } from './layout.js';

/** Byte offset of the id entry of the chunk's `slot`-th slot. */
const entryAt = (layout: ChunkLayout, chunk: number, slot: number): number => chunk + layout.idEntriesOffset + slot * ID_ENTRY_BYTES;

interface View {
  sab: SharedArrayBuffer;
  bytes: Buffer;
  words: Uint32Array;
}

/** Reads ids from the shared memory (any thread). */
export class IdReader {
  private view: View | undefined;

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** The id of the chunk's `slot`-th slot (0 ≤ slot < CHUNK_SLOTS), or undefined when none was written there. */
  read(layout: ChunkLayout, chunk: number, slot: number): string | undefined {
    const entry = entryAt(layout, chunk, slot);
    let { bytes, words } = this.covering(entry + ID_ENTRY_BYTES);
    const length = words[(entry >>> 2) + IdEntryWord.LENGTH];
    if (!length) return undefined;
    const at = words[(entry >>> 2) + IdEntryWord.OFFSET]!;
    if (at + length > bytes.length) ({ bytes, words } = this.covering(at + length));
    return bytes.toString('utf8', at, at + length);
  }

  /**
   * Views that reach byte `end`. A grown memory has a new, longer buffer, but the old one stays a
   * valid view of the bytes it covers, so the (costly) `memory.buffer` is asked only past them.
   */
  protected covering(end: number): View {
    const view = this.view;
    if (view && end <= view.sab.byteLength) return view;
    const sab = this.memory.buffer as unknown as SharedArrayBuffer;
    this.view = { sab, bytes: Buffer.from(sab), words: new Uint32Array(sab) };
    return this.view;
  }
}

interface Page {
  readonly offset: number;
  /** Bytes written. */
  top: number;
  /** Chunks with an entry pointing into this page. */
  chunks: number;
}

/** A lone UTF-16 surrogate: it has no UTF-8 encoding, so it would not come back as written. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether `id` is text that UTF-8 keeps as it is (no lone surrogate). */
export const wellFormed = (id: string): boolean => !LONE_SURROGATE.test(id);

/** Whether an id of `length` UTF-8 bytes fits an entry and comes back as written. */
const fits = (id: string, length: number): boolean => length <= MAX_ID_BYTES && wellFormed(id);

/** Whether the store can keep `id`: non-empty, well-formed, at most MAX_ID_BYTES of UTF-8 (the API takes fewer). */
export const storableId = (id: string): boolean => id.length > 0 && fits(id, Buffer.byteLength(id));

const REFUSED = `an id must be well-formed text of at most ${MAX_ID_BYTES} UTF-8 bytes (the API refuses others)`;

/** Writes one collection's ids into the shared memory and frees their pages (main thread only). */
export class IdHeap extends IdReader {
  /** The page being filled. */
  private page: Page | null = null;
  /** Empty pages set aside by `reserve`, taken in order. */
  private readonly spare: Page[] = [];
  private readonly pagesOfChunk = new Map<number, Set<Page>>();
  private pages = 0;

  constructor(private readonly arena: Arena) {
    super(arena.memory);
  }

  /** UTF-8 bytes of ids: what `reserve` takes for a batch. Throws, before anything is written, on an id `put` would refuse. */
  static bytesOf(ids: readonly string[]): number {
    let n = 0;
    for (const id of ids) {
      const length = Buffer.byteLength(id);
      if (!fits(id, length)) throw new Error(REFUSED);
      n += length;
    }
    return n;
  }

  /**
   * Sets pages aside until `bytes` more id bytes fit whatever their lengths (an id that does
   * not fit the rest of a page goes to the next one: up to MAX_ID_BYTES lost per page). Throws
   * INDEX_FULL (from the arena) having changed nothing.
   */
  reserve(bytes: number): void {
    if (bytes <= 0) return;
    const room = (extra: number): number => (this.page ? ID_PAGE_BYTES - this.page.top : 0) + (this.spare.length + extra) * ID_PAGE_BYTES;
    const lost = (extra: number): number => (this.spare.length + extra + 1) * MAX_ID_BYTES;
    const added: Page[] = [];
    try {
      while (room(added.length) < bytes + lost(added.length)) added.push({ offset: this.arena.alloc(ID_PAGE_BYTES), top: 0, chunks: 0 });
    } catch (err) {
      for (const p of added) this.arena.release(p.offset, ID_PAGE_BYTES);
      throw err;
    }
    this.spare.push(...added);
    this.pages += added.length;
  }

  /** Writes `id` as the id of the chunk's `slot`-th slot (an empty id leaves the slot without one). */
  put(layout: ChunkLayout, chunk: number, slot: number, id: string): void {
    const length = Buffer.byteLength(id);
    if (!fits(id, length)) throw new Error(REFUSED);
    this.place(chunk, entryAt(layout, chunk, slot), length, 0, (bytes, at) => bytes.write(id, at, length, 'utf8'));
  }

  /** UTF-8 bytes of the id of the chunk's `slot`-th slot (0: none): what `copy` of it takes. */
  lengthAt(layout: ChunkLayout, chunk: number, slot: number): number {
    const entry = entryAt(layout, chunk, slot);
    return this.covering(entry + ID_ENTRY_BYTES).words[(entry >>> 2) + IdEntryWord.LENGTH]!;
  }

  /**
   * Writes the id of one slot as the id of another (of this collection), byte for byte: what a
   * compacting merge does for every record it moves, without decoding and encoding the id.
   */
  copy(layout: ChunkLayout, fromChunk: number, fromSlot: number, toChunk: number, toSlot: number): void {
    const from = entryAt(layout, fromChunk, fromSlot);
    const { words } = this.covering(from + ID_ENTRY_BYTES);
    const length = words[(from >>> 2) + IdEntryWord.LENGTH]!;
    const source = words[(from >>> 2) + IdEntryWord.OFFSET]!;
    this.place(toChunk, entryAt(layout, toChunk, toSlot), length, source + length, (bytes, at) => bytes.copyWithin(at, source, source + length));
  }

  /**
   * Makes the entry at `entry` (of `chunk`) point at `length` bytes on the page being filled,
   * which `fill` writes there; `length` 0 leaves the slot without an id. `reach`: a further
   * byte `fill` reads, which the views must cover too.
   */
  private place(chunk: number, entry: number, length: number, reach: number, fill: (bytes: Buffer, at: number) => void): void {
    let at = 0;
    if (length > 0) {
      const page = this.pageWithRoom(length); // may grow the memory: views are taken after it
      at = page.offset + page.top;
      page.top += length;
      this.enter(chunk, page);
    }
    const { bytes, words } = this.covering(Math.max(entry + ID_ENTRY_BYTES, at + length, reach));
    if (length > 0) fill(bytes, at);
    words[(entry >>> 2) + IdEntryWord.OFFSET] = at;
    words[(entry >>> 2) + IdEntryWord.LENGTH] = length;
  }

  /** The chunk is being freed: so are the pages no other chunk points into. */
  releaseChunk(chunk: number): void {
    const pages = this.pagesOfChunk.get(chunk);
    if (!pages) return;
    this.pagesOfChunk.delete(chunk);
    for (const page of pages) if (--page.chunks === 0 && page !== this.page) this.free(page);
  }

  /** The collection is gone and its chunks released: frees the page being filled and the spare ones. */
  close(): void {
    if (this.page && this.page.chunks === 0) this.free(this.page);
    this.page = null;
    for (const p of this.spare.splice(0)) this.free(p);
  }

  /** Bytes of id pages held (the page being filled and the spare ones included). */
  get bytes(): number {
    return this.pages * ID_PAGE_BYTES;
  }

  /** The chunk points into the page (counted once per chunk). */
  private enter(chunk: number, page: Page): void {
    let pages = this.pagesOfChunk.get(chunk);
    if (!pages) this.pagesOfChunk.set(chunk, (pages = new Set()));
    if (!pages.has(page)) {
      pages.add(page);
      page.chunks++;
    }
  }

  /** The page being filled, or the next one when `length` bytes do not fit it any more. */
  private pageWithRoom(length: number): Page {
    const current = this.page;
    if (current && ID_PAGE_BYTES - current.top >= length) return current;
    if (this.spare.length === 0) this.reserve(length);
    this.page = this.spare.shift()!;
    if (current && current.chunks === 0) this.free(current);
    return this.page;
  }

  private free(page: Page): void {
    this.pages--;
    this.arena.release(page.offset, ID_PAGE_BYTES);
  }
}
