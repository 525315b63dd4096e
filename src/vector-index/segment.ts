/**
 * One segment of a collection: an append-only run of arena chunks (vectors | invNorm | state |
 * id entries, see layout.ts; the ids themselves on shared id pages, id-heap.ts) plus the
 * versions, metadata and documents of its slots (main thread).
 *
 * A segment lives through three phases:
 *   growing → takes appends; workers scan it exactly (published COUNT, Atomics).
 *   frozen  → full or idle; no more appends; still scanned exactly while its HNSW graph builds.
 *   sealed  → a usearch HNSW file over its slots exists; workers search the graph (memory-mapped
 *             with `view()`) and re-rank the candidates exactly from the arena.
 * Slots are never reused: a delete or overwrite flips the slot's state byte to DEAD (every
 * phase honours it); compaction copies the live slots into a new segment and retires this one.
 * A merge of segments with few dead slots copies nothing: the merged segment takes over its
 * sources' chunks (`CollectionStore.spanning`), and only the owner of chunks frees them.
 */
import type { I8Quantizer } from '../graph/quantize.js';
import type { Metadata } from '../persist/ops.js';
import type { Arena } from './arena.js';
import type { IdHeap } from './id-heap.js';
import { CHUNK_SLOTS, DESCRIPTOR_BYTES, DescriptorWord, SlotState, type ChunkLayout } from './layout.js';

export type SegmentPhase = 'growing' | 'frozen' | 'sealed';

/** The HNSW graph of a sealed segment. */
export interface SegmentGraph {
  /** Absolute path of the usearch index file. */
  readonly path: string;
  /** Slots that are nodes of the graph (the segment's live slots when it was built). */
  readonly nodes: number;
  /** An i8 graph quantised by hotvec (graph/quantize.ts): how; queries are quantised alike. */
  readonly quantizer?: I8Quantizer;
}

/** A graph as a segment records it (the quantiser only for a graph hotvec quantised). */
export function segmentGraph(path: string, nodes: number, quantizer: I8Quantizer | undefined): SegmentGraph {
  return quantizer ? { path, nodes, quantizer } : { path, nodes };
}

/** What a worker needs to search one segment: offsets and a file path, never vectors. */
export interface SegmentTarget {
  descriptorOffset: number;
  chunks: number[];
  /** Present once sealed; absent means scan exactly. */
  graph?: { path: string; nodes: number; dead: number; quantizer?: I8Quantizer };
}

/** Where a live record is: the object the collection's id map holds for its id. */
export interface RecordLoc {
  seg: Segment;
  slot: number;
}

export class Segment {
  readonly chunks: number[] = [];
  readonly descriptorOffset: number;
  readonly versions: number[] = [];
  readonly metadatas: (Metadata | null | undefined)[] = [];
  readonly documents: (string | null | undefined)[] = [];
  /**
   * Per slot, the id map's location object while the slot holds its id's current record
   * (undefined once overwritten or deleted): a merge moves records by updating these objects,
   * without decoding ids or looking them up (`CollectionStore.replace`).
   */
  readonly locs: (RecordLoc | undefined)[] = [];
  phase: SegmentPhase = 'growing';
  graph: SegmentGraph | null = null;
  /** Slots appended (and published). */
  count = 0;
  /** Slots still LIVE. */
  live = 0;
  private released = false;
  /** Whether `release()` frees the chunks (false while another segment owns them). */
  private ownsChunks = true;
  /** For a segment made over other segments' chunks (`CollectionStore.spanning`): those segments. */
  spans: readonly Segment[] | null = null;

  constructor(
    /** Unique within its collection; names the segment's files. */
    readonly serial: number,
    readonly layout: ChunkLayout,
    /** Slots this segment may hold (a multiple of CHUNK_SLOTS). */
    readonly capacity: number,
    private readonly arena: Arena,
    /** Where the slots' ids go (the collection's id heap, shared by its segments). */
    private readonly idHeap: IdHeap,
    /** A descriptor reserved earlier (so a reserved batch cannot fail half-way); allocated here otherwise. */
    descriptor?: number,
  ) {
    this.descriptorOffset = descriptor ?? arena.alloc(DESCRIPTOR_BYTES);
  }

  get dimension(): number {
    return this.layout.dimension;
  }

  get room(): number {
    return this.phase === 'growing' ? this.capacity - this.count : 0;
  }

  /** Chunks still needed to append n more slots. */
  chunksNeeded(n: number): number {
    return Math.max(0, Math.ceil((this.count + n) / CHUNK_SLOTS) - this.chunks.length);
  }

  /** Gives the segment a chunk allocated (zeroed) by the caller. */
  addChunk(offset: number): void {
    this.chunks.push(offset);
  }

  /** Byte offset of a slot's vector. */
  vectorOffset(slot: number): number {
    return this.chunks[Math.floor(slot / CHUNK_SLOTS)]! + this.layout.vectorsOffset + (slot % CHUNK_SLOTS) * this.layout.dimension * 4;
  }

  stateOffset(slot: number): number {
    return this.chunks[Math.floor(slot / CHUNK_SLOTS)]! + this.layout.stateOffset + (slot % CHUNK_SLOTS);
  }

  /**
   * Writes one record into the next slot (its chunk must be there) without publishing it;
   * `publish()` makes appended slots visible to workers.
   */
  append(id: string, vector: Float32Array, metadata: Metadata | null, document: string | null, version: number, invNorm?: number): number {
    const slot = this.count++;
    const buf = this.arena.buffer;
    const dim = this.layout.dimension;
    const f32 = new Float32Array(buf);
    f32.set(vector, this.vectorOffset(slot) >>> 2);
    let inv = invNorm;
    if (inv === undefined) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += vector[j]! * vector[j]!;
      inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    }
    f32[this.invNormOffset(slot) >>> 2] = inv;
    new Uint8Array(buf)[this.stateOffset(slot)] = SlotState.LIVE;
    this.setId(slot, id);
    this.versions[slot] = version;
    this.metadatas[slot] = metadata;
    this.documents[slot] = document;
    this.live++;
    return slot;
  }

  /** Publishes every appended slot (release): a worker that loads COUNT sees them whole. */
  publish(): void {
    Atomics.store(new Int32Array(this.arena.buffer), (this.descriptorOffset >>> 2) + DescriptorWord.COUNT, this.count);
  }

  /**
   * Tombstones a slot: every later search skips it. Its id, metadata and document stay until
   * the segment is compacted away: a snapshot may write the segment's records after the kill
   * for a capture taken before it.
   */
  kill(slot: number): void {
    Atomics.store(new Uint8Array(this.arena.buffer), this.stateOffset(slot), SlotState.DEAD);
    this.live--;
  }

  /** UTF-8 bytes of a slot's id (0 for a hole). */
  idBytes(slot: number): number {
    const chunk = this.chunks[Math.floor(slot / CHUNK_SLOTS)];
    return chunk === undefined ? 0 : this.idHeap.lengthAt(this.layout, chunk, slot % CHUNK_SLOTS);
  }

  /** The id of a slot (shared memory), or undefined for a slot never written (a hole). */
  id(slot: number): string | undefined {
    const chunk = this.chunks[Math.floor(slot / CHUNK_SLOTS)];
    return chunk === undefined ? undefined : this.idHeap.read(this.layout, chunk, slot % CHUNK_SLOTS);
  }

  /** Writes a slot's id (its chunk must be there); ids of a batch are reserved with its chunks. */
  setId(slot: number, id: string): void {
    this.idHeap.put(this.layout, this.chunks[Math.floor(slot / CHUNK_SLOTS)]!, slot % CHUNK_SLOTS, id);
  }

  /**
   * Enters the record of `from`'s slot `slot` at this segment's slot `to` (id, version, metadata,
   * document; not the vector). A merge over chunks enters a slot at its own place in the same
   * chunk, where the id already is.
   */
  takeRecord(to: number, from: Segment, slot: number): void {
    const toChunk = this.chunks[Math.floor(to / CHUNK_SLOTS)]!;
    const fromChunk = from.chunks[Math.floor(slot / CHUNK_SLOTS)]!;
    // Byte for byte (both segments are the collection's: one id heap).
    if (toChunk !== fromChunk || to % CHUNK_SLOTS !== slot % CHUNK_SLOTS) this.idHeap.copy(this.layout, fromChunk, slot % CHUNK_SLOTS, toChunk, to % CHUNK_SLOTS);
    this.versions[to] = from.versions[slot]!;
    this.metadatas[to] = from.metadatas[slot] ?? null;
    this.documents[to] = from.documents[slot] ?? null;
  }

  /**
   * Marks every slot past the count DEAD, whatever the chunk memory held (a chunk image restored
   * from a snapshot may carry states of slots appended after its capture).
   */
  markTailDead(): void {
    const u8 = new Uint8Array(this.arena.buffer);
    for (let slot = this.count; slot < this.chunks.length * CHUNK_SLOTS; slot++) u8[this.stateOffset(slot)] = SlotState.DEAD;
  }

  /** A copy of the slot's vector. */
  vector(slot: number): Float32Array {
    const at = this.vectorOffset(slot) >>> 2;
    return new Float32Array(this.arena.buffer).slice(at, at + this.layout.dimension);
  }

  invNormOffset(slot: number): number {
    return this.chunks[Math.floor(slot / CHUNK_SLOTS)]! + this.layout.invNormOffset + (slot % CHUNK_SLOTS) * 4;
  }

  /** The live slots, in order. */
  liveSlots(): Int32Array {
    const out = new Int32Array(this.live);
    const u8 = new Uint8Array(this.arena.buffer);
    let n = 0;
    for (let s = 0; s < this.count && n < out.length; s++) if (u8[this.stateOffset(s)] === SlotState.LIVE) out[n++] = s;
    return n === out.length ? out : out.subarray(0, n);
  }

  target(): SegmentTarget {
    const t: SegmentTarget = { descriptorOffset: this.descriptorOffset, chunks: this.chunks.slice() };
    if (this.graph) t.graph = { ...this.graph, dead: this.graph.nodes - this.live };
    return t;
  }

  /**
   * Ownership of the chunks for merges that take them over: a segment made over another's
   * chunks starts without it (`own(false)`) and gets it when installed, as its sources lose it.
   */
  own(owns: boolean): void {
    this.ownsChunks = owns;
  }

  /** Returns the chunks (if it owns them) to the arena. Call only once no task can read them (reclaimer). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.spans = null;
    if (this.ownsChunks) {
      for (const c of this.chunks) {
        this.idHeap.releaseChunk(c);
        this.arena.release(c, this.layout.allocBytes);
      }
    }
    this.arena.release(this.descriptorOffset, DESCRIPTOR_BYTES);
    this.chunks.length = 0;
    this.locs.length = 0;
  }
}
