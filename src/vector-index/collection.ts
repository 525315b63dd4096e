/**
 * One collection's records (main thread): the id map, metadata and documents in JS, the
 * vectors in shared chunks of the arena. Only this class writes those chunks; it publishes
 * new slots with Atomics so workers scanning concurrently never see half a write.
 * Overwrites and deletes tombstone the old slot; the slot is reused once no task can read it.
 */
import type { Metadata, Metric } from '../persist/ops.js';
import type { Arena } from './arena.js';
import { CHUNK_SLOTS, DESCRIPTOR_BYTES, DescriptorWord, SlotState, chunkLayout, type ChunkLayout } from './layout.js';
import type { Reclaimer } from './reclaimer.js';
import type { ScanTarget } from './scan.js';

export interface CollectionInfo {
  readonly name: string;
  readonly dimension: number;
  readonly metric: Metric;
}

export interface RecordView {
  id: string;
  embedding: Float32Array;
  metadata: Metadata | null;
  document: string | null;
}

export class CollectionStore implements CollectionInfo {
  readonly name: string;
  readonly dimension: number;
  readonly metric: Metric;
  readonly descriptorOffset: number;
  private readonly layout: ChunkLayout;
  private readonly chunks: number[] = [];
  private readonly idToSlot = new Map<string, number>();
  private readonly slotToId: (string | undefined)[] = [];
  private readonly metadatas: (Metadata | null | undefined)[] = [];
  private readonly documents: (string | null | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  /** Slots handed out so far (published count). */
  private appended = 0;
  private dropped = false;

  constructor(
    info: CollectionInfo,
    private readonly arena: Arena,
    private readonly reclaimer: Reclaimer,
  ) {
    this.name = info.name;
    this.dimension = info.dimension;
    this.metric = info.metric;
    this.layout = chunkLayout(info.dimension);
    this.descriptorOffset = arena.alloc(DESCRIPTOR_BYTES);
  }

  /** Live records. */
  get count(): number {
    return this.idToSlot.size;
  }

  /** Bytes of shared memory held by this collection. */
  get sharedBytes(): number {
    return this.chunks.length * this.layout.bytes + DESCRIPTOR_BYTES;
  }

  has(id: string): boolean {
    return this.idToSlot.has(id);
  }

  /** A frozen description for a scan task; chunks added later are not in it. */
  scanTarget(): ScanTarget {
    return { descriptorOffset: this.descriptorOffset, chunks: this.chunks.slice(), dimension: this.dimension, metric: this.metric };
  }

  /** The id now stored at `slot`, or undefined when it was deleted or overwritten since. */
  idAt(slot: number): string | undefined {
    return this.slotToId[slot];
  }

  /**
   * Writes a batch. `embeddings` holds ids.length × dimension values (validated by the caller).
   * Throws INDEX_FULL before changing anything when the arena cannot hold the batch.
   */
  upsert(ids: readonly string[], embeddings: Float32Array, metadatas?: readonly (Metadata | null)[], documents?: readonly (string | null)[]): void {
    this.assertOpen();
    this.reserve(ids.length);
    const dim = this.dimension;
    const buf = this.arena.buffer;
    const f32 = new Float32Array(buf);
    const u8 = new Uint8Array(buf);
    const i32 = new Int32Array(buf);
    const freed: number[] = [];
    let appendedBefore = this.appended;
    for (let r = 0; r < ids.length; r++) {
      const id = ids[r]!;
      const reuse = this.freeSlots.pop();
      const slot = reuse ?? this.appended++;
      const { chunk, index } = this.locate(slot);
      const vec = embeddings.subarray(r * dim, (r + 1) * dim);
      f32.set(vec, (chunk + this.layout.vectorsOffset + index * dim * 4) >> 2);
      let s = 0;
      for (let j = 0; j < dim; j++) s += vec[j]! * vec[j]!;
      f32[(chunk + this.layout.invNormOffset + index * 4) >> 2] = s > 0 ? 1 / Math.sqrt(s) : 0;
      this.metadatas[slot] = metadatas?.[r] ?? null;
      this.documents[slot] = documents?.[r] ?? null;
      this.slotToId[slot] = id;
      if (reuse !== undefined) {
        // A reused slot is below the published count: its state flip is the publication.
        Atomics.store(u8, chunk + this.layout.stateOffset + index, SlotState.LIVE);
      } else {
        u8[chunk + this.layout.stateOffset + index] = SlotState.LIVE;
      }
      const old = this.idToSlot.get(id);
      this.idToSlot.set(id, slot);
      if (old !== undefined) {
        if (this.appended > appendedBefore) {
          // Publish the new slot before tombstoning the old one: a concurrent scan may
          // briefly see both (callers drop duplicate ids), never neither.
          Atomics.store(i32, (this.descriptorOffset >> 2) + DescriptorWord.COUNT, this.appended);
          appendedBefore = this.appended;
        }
        this.tombstone(old, u8);
        freed.push(old);
      }
    }
    Atomics.store(i32, (this.descriptorOffset >> 2) + DescriptorWord.COUNT, this.appended);
    this.retireSlots(freed);
  }

  /** Deletes ids that exist; returns how many were deleted. */
  delete(ids: readonly string[]): number {
    this.assertOpen();
    const u8 = new Uint8Array(this.arena.buffer);
    const freed: number[] = [];
    for (const id of ids) {
      const slot = this.idToSlot.get(id);
      if (slot === undefined) continue;
      this.idToSlot.delete(id);
      this.tombstone(slot, u8);
      freed.push(slot);
    }
    this.retireSlots(freed);
    return freed.length;
  }

  /** Records for the ids that exist, in request order. Embeddings are copies. */
  get(ids: readonly string[]): RecordView[] {
    const out: RecordView[] = [];
    for (const id of ids) {
      const slot = this.idToSlot.get(id);
      if (slot !== undefined) out.push(this.recordAt(slot));
    }
    return out;
  }

  recordAt(slot: number): RecordView {
    const { chunk, index } = this.locate(slot);
    const start = (chunk + this.layout.vectorsOffset + index * this.dimension * 4) >> 2;
    const embedding = new Float32Array(this.arena.buffer).slice(start, start + this.dimension);
    return { id: this.slotToId[slot]!, embedding, metadata: this.metadatas[slot] ?? null, document: this.documents[slot] ?? null };
  }

  /** Frees the shared memory once no task can read it. The store is unusable afterwards. */
  drop(): void {
    if (this.dropped) return;
    this.dropped = true;
    const chunks = this.chunks.splice(0);
    const bytes = this.layout.bytes;
    const descriptor = this.descriptorOffset;
    this.idToSlot.clear();
    this.reclaimer.retire(() => {
      for (const c of chunks) this.arena.release(c, bytes);
      this.arena.release(descriptor, DESCRIPTOR_BYTES);
    });
  }

  private tombstone(slot: number, u8: Uint8Array): void {
    const { chunk, index } = this.locate(slot);
    Atomics.store(u8, chunk + this.layout.stateOffset + index, SlotState.DEAD);
    this.slotToId[slot] = undefined;
    this.metadatas[slot] = undefined;
    this.documents[slot] = undefined;
  }

  private retireSlots(slots: number[]): void {
    if (slots.length === 0) return;
    this.reclaimer.retire(() => {
      if (!this.dropped) this.freeSlots.push(...slots);
    });
  }

  /** Allocates the chunks a batch of n new records may need, all or nothing (before the WAL sees the write). */
  reserve(n: number): void {
    const needSlots = this.appended + Math.max(0, n - this.freeSlots.length);
    const needChunks = Math.ceil(needSlots / CHUNK_SLOTS);
    const added: number[] = [];
    try {
      while (this.chunks.length + added.length < needChunks) added.push(this.arena.alloc(this.layout.bytes));
    } catch (err) {
      for (const c of added) this.arena.release(c, this.layout.bytes);
      throw err;
    }
    this.chunks.push(...added);
  }

  private locate(slot: number): { chunk: number; index: number } {
    return { chunk: this.chunks[Math.floor(slot / CHUNK_SLOTS)]!, index: slot % CHUNK_SLOTS };
  }

  private assertOpen(): void {
    if (this.dropped) throw new Error(`collection ${this.name} was dropped`);
  }
}
