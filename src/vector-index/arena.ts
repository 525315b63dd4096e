/**
 * The shared vector arena (main-thread side): owns the `WebAssembly.Memory`, initialises its
 * header and hands out blocks. Only the main thread allocates; workers only read blocks and
 * claim a scratch slot (see layout.ts). Freed blocks are kept per size for reuse.
 */
import { HotvecError } from '../errors.js';
import {
  ARENA_HEADER_BYTES,
  ARENA_MAGIC,
  ARENA_VERSION,
  HeaderWord,
  MAX_SCRATCH_SLOTS,
  WASM_PAGE_BYTES,
  scratchLayout,
  type ScratchLayout,
} from './layout.js';

export interface ArenaOptions {
  /** Upper bound of the memory in bytes (rounded down to whole pages). */
  maxBytes: number;
  /** Largest vector dimension a worker's scratch must hold. */
  maxDimension: number;
  /** Scratch slots to reserve: one per worker thread that may run, respawns included. */
  scratchSlots: number;
}

export class Arena {
  readonly memory: WebAssembly.Memory;
  readonly scratch: ScratchLayout;
  private readonly maxPages: number;
  private top: number;
  /** Freed blocks by size: below the records' limit, and in the headroom (kept for `fromHeadroom`). */
  private readonly free = new Map<number, number[]>();
  private readonly freeInHeadroom = new Map<number, number[]>();
  private liveBytes = 0;

  constructor(options: ArenaOptions) {
    if (options.scratchSlots < 1 || options.scratchSlots > MAX_SCRATCH_SLOTS) {
      throw new RangeError(`scratchSlots must be 1..${MAX_SCRATCH_SLOTS}, got ${options.scratchSlots}`);
    }
    this.scratch = scratchLayout(options.maxDimension, options.scratchSlots);
    this.top = this.scratch.base + this.scratch.stride * this.scratch.slots;
    this.maxPages = Math.floor(options.maxBytes / WASM_PAGE_BYTES);
    const initial = Math.ceil(this.top / WASM_PAGE_BYTES);
    if (initial > this.maxPages) {
      throw new HotvecError('INVALID_CONFIG', `maxIndexBytes ${options.maxBytes} cannot even hold the worker scratch (${this.top} bytes)`);
    }
    this.memory = new WebAssembly.Memory({ initial, maximum: this.maxPages, shared: true });
    const header = new Int32Array(this.memory.buffer, 0, ARENA_HEADER_BYTES / 4);
    header[HeaderWord.MAGIC] = ARENA_MAGIC;
    header[HeaderWord.VERSION] = ARENA_VERSION;
  }

  /**
   * Bytes at the top that only `alloc(…, true)` may take: directory entries (directory.ts), so
   * that an arena full of records still answers queries. 1/256 of the arena, at least 64 KiB.
   */
  get headroom(): number {
    return Math.max(WASM_PAGE_BYTES, Math.floor(this.maxPages / 256) * WASM_PAGE_BYTES);
  }

  /** Where records must end: the arena's bound less the headroom. */
  private get limit(): number {
    return this.maxPages * WASM_PAGE_BYTES - this.headroom;
  }

  /** Returns the byte offset of a zeroed block of `bytes` (a multiple of 64); `fromHeadroom` may take the headroom too. */
  alloc(bytes: number, fromHeadroom = false): number {
    const reused = this.free.get(bytes)?.pop() ?? (fromHeadroom ? this.freeInHeadroom.get(bytes)?.pop() : undefined);
    if (reused !== undefined) {
      new Uint8Array(this.memory.buffer, reused, bytes).fill(0);
      this.liveBytes += bytes;
      return reused;
    }
    const offset = this.top;
    const end = offset + bytes;
    if (!fromHeadroom && end > this.limit) throw this.full();
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / WASM_PAGE_BYTES);
      // Grow geometrically (at least 1/8 more) so appends don't grow page by page.
      const want = Math.max(pages, Math.ceil(have / WASM_PAGE_BYTES / 8));
      const current = have / WASM_PAGE_BYTES;
      const grant = Math.min(want, this.maxPages - current);
      if (grant < pages) throw this.full();
      this.memory.grow(grant);
    }
    this.top = end;
    this.liveBytes += bytes;
    return offset;
  }

  private full(): HotvecError {
    const max = this.maxPages * WASM_PAGE_BYTES;
    return new HotvecError('INDEX_FULL', `the shared vector arena is full: records may take ${this.limit} of its ${max} bytes (maxIndexBytes less ${this.headroom} kept for query views), and no freed block fits`);
  }

  /** Returns a block for reuse. Callers free only once no worker can still read it. */
  release(offset: number, bytes: number): void {
    const lists = offset + bytes > this.limit ? this.freeInHeadroom : this.free;
    let list = lists.get(bytes);
    if (!list) lists.set(bytes, (list = []));
    list.push(offset);
    this.liveBytes -= bytes;
  }

  /** Bytes of the shared memory (committed, grows only). */
  get sharedBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes in blocks handed out and not released. */
  get usedBytes(): number {
    return this.liveBytes;
  }

  get buffer(): SharedArrayBuffer {
    return this.memory.buffer as unknown as SharedArrayBuffer;
  }
}
