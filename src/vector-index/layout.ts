/**
 * Named layout of the shared vector arena: one shared `WebAssembly.Memory` (itself a
 * SharedArrayBuffer) that the main thread writes and every worker reads. It grows in
 * 64 KiB pages without moving, so workers never need a new copy.
 *
 *   byte 0                 ARENA_HEADER_BYTES          scratchBase
 *   +----------------------+---------------------------+-----------------------------+---------
 *   | header               | (reserved)                | scratch[0] .. scratch[S-1]  | chunks, collection descriptors ...
 *   +----------------------+---------------------------+-----------------------------+---------
 *
 *   header (Int32 words):  0 MAGIC, 1 VERSION, 2–9 SCRATCH_CLAIMS (256-bit claim bitmap),
 *                          10 GLOBAL_EPOCH, 11–63 unused (room for more header words),
 *                          64–319 READER_EPOCHS (one per scratch slot), the rest unused
 *     GLOBAL_EPOCH: odd, advanced by 2 (wrapping) by the main thread at every retirement;
 *     READER_EPOCHS[i]: the epoch the thread holding scratch slot i pinned while it reads
 *     shared structures, 0 (IDLE) when it reads none (reader-epochs.ts).
 *
 *   scratch slot (one per worker, claimed by the worker with Atomics.or on the bitmap):
 *   +---------------------------+-------------------------------+
 *   | query: maxDimension × f32 | distances: CHUNK_SLOTS × f32  |
 *   +---------------------------+-------------------------------+
 *     a chunk's exact scan writes its CHUNK_SLOTS distances there; a graph segment's re-rank
 *     splits the same bytes in two (GATHER_ROWS each):
 *                               +-----------------------------+------------------------------+
 *                               | row offsets: GATHER_ROWS u32 | distances: GATHER_ROWS × f32 |
 *                               +-----------------------------+------------------------------+
 *
 *   collection descriptor (DESCRIPTOR_BYTES):  [COUNT i32: slots published] [reserved]
 *     COUNT is stored with Atomics.store after the slots below it are written (release) and
 *     read with Atomics.load by a worker before it scans (acquire).
 *
 *   chunk (CHUNK_SLOTS slots of one collection, dimension d), one block of `allocBytes`:
 *   +------------------------------+----------------------------+-------------------------+-----------------------------+
 *   | vectors: CHUNK_SLOTS × d f32 | invNorm: CHUNK_SLOTS × f32 | state: CHUNK_SLOTS × u8 | id entries: CHUNK_SLOTS × 8 |
 *   +------------------------------+----------------------------+-------------------------+-----------------------------+
 *   |<------------------------------- bytes (the chunk image snapshots write) ------------>|
 *     state LIVE (1) / DEAD (0), written with Atomics.store after the vector (release);
 *     a worker snapshots a chunk's states with Atomics.load *before* it reads the vectors,
 *     and a slot is reused only once every task that may read it has finished (see reclaimer.ts).
 *     id entry (IdEntryWord): [OFFSET u32][LENGTH u32] of the slot's id, UTF-8 bytes on an id
 *     page (id-heap.ts); LENGTH 0: no id. Written before the slot is published; past `bytes`, so
 *     snapshots (which write and read `bytes` per chunk) keep their format and restored segments
 *     write their ids anew.
 *
 *   id page (ID_PAGE_BYTES, every page the same size so freed ones are reused): ids' UTF-8
 *     bytes, appended; an id (at most MAX_ID_BYTES) never spans two pages.
 *
 *   directory entry (directory.ts): one collection's search view — what a query task searches —
 *     written once, never changed, freed through the reclaimer once a newer view replaced it;
 *     a power of two of at least DIRECTORY_MIN_BYTES, so freed ones are reused.
 *   +---------------------------------+------------------------------------------------+
 *   | DirectoryWord header (16 words) | per segment: SegmentWord record (8 words),     |
 *   |                                 | chunk offsets (u32 × CHUNKS), quantiser offset |
 *   |                                 | (f32 × dimension, i8 graphs), graph path UTF-8 |
 *   |                                 | (padded to 4 bytes)                            |
 *   +---------------------------------+------------------------------------------------+
 *     SERIAL is unique per entry written (a freed entry's place gets a new one), so a reader
 *     that finds another serial than its task names knows the entry was freed under it.
 */

export const WASM_PAGE_BYTES = 65536;
export const ARENA_MAGIC = 0x68766563; // "hvec"
export const ARENA_VERSION = 1;

/** Int32 word indexes in the arena header. */
export const HeaderWord = {
  MAGIC: 0,
  VERSION: 1,
  SCRATCH_CLAIMS: 2,
  GLOBAL_EPOCH: 10,
  /** First of MAX_SCRATCH_SLOTS words, one per scratch slot. */
  READER_EPOCHS: 64,
} as const;
export const SCRATCH_CLAIM_WORDS = 8;
export const MAX_SCRATCH_SLOTS = SCRATCH_CLAIM_WORDS * 32;
export const ARENA_HEADER_BYTES = 4096;
/** A reader epoch word of a thread that reads no shared structure (GLOBAL_EPOCH is always odd). */
export const EPOCH_IDLE = 0;

/** Slots per chunk; also the number of distances a kernel call writes to scratch. */
export const CHUNK_SLOTS = 1024;
/** Graph candidates re-ranked per gather call: their row offsets and distances share the scratch's distances area. */
export const GATHER_ROWS = CHUNK_SLOTS / 2;

export const SlotState = { DEAD: 0, LIVE: 1 } as const;

export const DESCRIPTOR_BYTES = 64;
/** Int32 word indexes inside a collection descriptor. */
export const DescriptorWord = { COUNT: 0 } as const;

export const align = (n: number, to: number): number => Math.ceil(n / to) * to;

/** Bytes of one slot's id entry. */
export const ID_ENTRY_BYTES = 8;
/** Uint32 words inside an id entry. */
export const IdEntryWord = { OFFSET: 0, LENGTH: 1 } as const;
/** Bytes of an id page. */
export const ID_PAGE_BYTES = 65536;
/** Longest id in UTF-8 bytes: 1,024 UTF-16 units (the API's limit) of at most 3 bytes each. */
export const MAX_ID_BYTES = 3 * 1024;

export interface ChunkLayout {
  readonly dimension: number;
  readonly vectorsOffset: number;
  readonly invNormOffset: number;
  readonly stateOffset: number;
  /** The chunk image: vectors, norms and states (what snapshots write). */
  readonly bytes: number;
  readonly idEntriesOffset: number;
  /** The whole block allocated per chunk: the image and the id entries. */
  readonly allocBytes: number;
}

export function chunkLayout(dimension: number): ChunkLayout {
  const vectorsBytes = CHUNK_SLOTS * dimension * 4;
  const bytes = align(vectorsBytes + CHUNK_SLOTS * 4 + CHUNK_SLOTS, 64);
  return {
    dimension,
    vectorsOffset: 0,
    invNormOffset: vectorsBytes,
    stateOffset: vectorsBytes + CHUNK_SLOTS * 4,
    bytes,
    idEntriesOffset: bytes,
    allocBytes: bytes + CHUNK_SLOTS * ID_ENTRY_BYTES,
  };
}

export interface ScratchLayout {
  readonly base: number;
  readonly stride: number;
  readonly slots: number;
  readonly queryOffset: number;
  readonly distancesOffset: number;
}

export function scratchLayout(maxDimension: number, slots: number): ScratchLayout {
  const queryBytes = align(maxDimension * 4, 64);
  return {
    base: ARENA_HEADER_BYTES,
    stride: align(queryBytes + CHUNK_SLOTS * 4, 64),
    slots,
    queryOffset: 0,
    distancesOffset: queryBytes,
  };
}

/** Int32 words of a directory entry's header. */
export const DirectoryWord = {
  SERIAL: 0,
  BYTES: 1,
  DIMENSION: 2,
  /** Index in METRIC_CODES. */
  METRIC: 3,
  M: 4,
  EF_CONSTRUCTION: 5,
  EF_SEARCH: 6,
  /** Index in STORAGE_KINDS. */
  STORAGE: 7,
  SEGMENTS: 8,
} as const;
export const DIRECTORY_HEADER_WORDS = 16;
export const DIRECTORY_MIN_BYTES = 256;

/** Int32 words of a segment's record in a directory entry; what follows it is sized by them. */
export const SegmentWord = {
  DESCRIPTOR: 0,
  CHUNKS: 1,
  /** Graph nodes, or -1: no graph (scan exactly). */
  GRAPH_NODES: 2,
  GRAPH_DEAD: 3,
  /** UTF-8 bytes of the graph file's path. */
  PATH_BYTES: 4,
  /** 1: an i8 quantiser follows the chunk offsets (SCALE, then dimension f32 offsets). */
  QUANTIZED: 5,
  /** The quantiser's scale, f64 (little-endian) over this word and the next. */
  SCALE: 6,
} as const;
export const SEGMENT_RECORD_WORDS = 8;

/**
 * The collection catalog (catalog.ts): a header, then one fixed-size slot per collection, so
 * that a thread that takes its own requests finds a collection's current directory entry by
 * name. Int32 words.
 *
 *   header: VERSION (bumped by every add and remove) · CLOCK (last generation handed out) ·
 *           OVERFLOW (live collections that found no free slot)
 *   slot:   INCARNATION (bumped by add and remove) · ENTRY (directory entry offset, unsigned
 *           bits; 0 = none: not yet, or no room for it) · GENERATION (moved after each new entry, from CLOCK) ·
 *           NAME_BYTES (0 = free) · NAME (UTF-8, CATALOG_NAME_BYTES)
 */
export const CatalogHeaderWord = { VERSION: 0, CLOCK: 1, OVERFLOW: 2 } as const;
export const CATALOG_HEADER_WORDS = 16;
export const CatalogWord = { INCARNATION: 0, ENTRY: 1, GENERATION: 2, NAME_BYTES: 3, NAME: 4 } as const;
/** Collection names are at most 128 ASCII characters (service/validate.ts). */
export const CATALOG_NAME_BYTES = 128;
export const CATALOG_SLOT_WORDS = CatalogWord.NAME + CATALOG_NAME_BYTES / 4;
export const CATALOG_SLOTS = 4096;
export const CATALOG_BYTES = align((CATALOG_HEADER_WORDS + CATALOG_SLOTS * CATALOG_SLOT_WORDS) * 4, 64);
