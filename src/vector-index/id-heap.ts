/**
 * Record ids in the shared arena, so that any thread can turn a search result (segment, slot)
 * into its id. Each chunk carries one id entry per slot (layout.ts); an entry points into an id
 * page, where the ids' UTF-8 bytes are appended. The main thread writes (`IdHeap`); any thread
 * reads (`IdReader`). An entry and its bytes are written before the slot is published (COUNT,
 * Atomics.store: release), so a reader that loaded COUNT sees them.
 *
 * Lifetime: ids follow their chunks. Every page counts the chunks that point into it and every
 * chunk knows its pages; a page is freed once no chunk points into it (and it is no longer the
 * page being filled). So a merge over chunks (`CollectionStore.spanning`), which takes over its
 * sources' chunks, takes their ids with them; a compacting merge writes the ids it copies anew.
 *
 * All or nothing: `reserve(bytes)` makes room for a batch's ids before the WAL sees the batch,
 * as the chunks are reserved, so `put` does not fail half-way through a batch. (`put` without a
 * reservation allocates a page itself, and may then fail with INDEX_FULL.)
 */
import type { Arena } from './arena.js';
import { ID_ENTRY_BYTES, ID_PAGE_BYTES, align, type ChunkLayout } from './layout.js';

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
    const e = chunk + layout.idEntriesOffset + slot * ID_ENTRY_BYTES;
    let { bytes, words } = this.covering(e + ID_ENTRY_BYTES);
    const length = words[(e >> 2) + 1];
    if (!length) return undefined;
    const at = words[e >> 2]!;
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
  readonly bytes: number;
  /** Bytes written. */
  top: number;
  /** Chunks with an entry pointing into this page. */
  chunks: number;
}

/** Writes ids into the shared memory and frees their pages (main thread only). */
export class IdHeap extends IdReader {
  /** The page being filled. */
  private page: Page | null = null;
  private readonly pagesOfChunk = new Map<number, Set<Page>>();
  private pageBytes = 0;

  constructor(private readonly arena: Arena) {
    super(arena.memory);
  }

  /** UTF-8 bytes of the ids: what `reserve` takes for a batch. */
  static bytesOf(ids: readonly string[]): number {
    let n = 0;
    for (const id of ids) n += Buffer.byteLength(id);
    return n;
  }

  /** Makes room for `bytes` more id bytes; throws INDEX_FULL (from the arena) having changed nothing. */
  reserve(bytes: number): void {
    const last = this.page;
    if (last && last.bytes - last.top >= bytes) return;
    const size = Math.max(ID_PAGE_BYTES, align(bytes, 64));
    this.page = { offset: this.arena.alloc(size), bytes: size, top: 0, chunks: 0 };
    this.pageBytes += size;
    if (last && last.chunks === 0) this.free(last);
  }

  /** Writes `id` as the id of the chunk's `slot`-th slot (an empty id leaves the slot without one). */
  put(layout: ChunkLayout, chunk: number, slot: number, id: string): void {
    const length = Buffer.byteLength(id);
    const entry = chunk + layout.idEntriesOffset + slot * ID_ENTRY_BYTES;
    const e = entry >> 2;
    if (length === 0) {
      const { words } = this.covering(entry + ID_ENTRY_BYTES);
      words[e] = words[e + 1] = 0;
      return;
    }
    this.reserve(length);
    const page = this.page!;
    const at = page.offset + page.top;
    const { bytes, words } = this.covering(Math.max(entry + ID_ENTRY_BYTES, at + length));
    bytes.write(id, at, length, 'utf8');
    page.top += length;
    let pages = this.pagesOfChunk.get(chunk);
    if (!pages) this.pagesOfChunk.set(chunk, (pages = new Set()));
    if (!pages.has(page)) {
      pages.add(page);
      page.chunks++;
    }
    words[e] = at;
    words[e + 1] = length;
  }

  /** The chunk is being freed: so are the pages no other chunk points into. */
  releaseChunk(chunk: number): void {
    const pages = this.pagesOfChunk.get(chunk);
    if (!pages) return;
    this.pagesOfChunk.delete(chunk);
    for (const page of pages) if (--page.chunks === 0 && page !== this.page) this.free(page);
  }

  /** Bytes of id pages held (the page being filled included). */
  get bytes(): number {
    return this.pageBytes;
  }

  private free(page: Page): void {
    this.pageBytes -= page.bytes;
    this.arena.release(page.offset, page.bytes);
  }
}
