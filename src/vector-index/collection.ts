/**
 * One collection's records (main thread): the id → (segment, slot) map over a list of
 * segments (oldest first; the last may be the growing one). Only this class writes the
 * segments' shared chunks; it publishes new slots with Atomics so workers searching
 * concurrently never see half a write.
 *
 * Every record write gets a fresh version. A search result (segment, slot) is still valid
 * when the id's current location holds the same version: that is true after compaction
 * moved the record, and false once it was deleted or overwritten.
 */
import { HotvecError } from '../errors.js';
import type { Metadata, Metric } from '../persist/ops.js';
import type { Arena } from './arena.js';
import type { Catalog, CatalogWaiter } from './catalog.js';
import { freeEntry, writeEntry, type DirectoryBody, type DirectoryRef } from './directory.js';
import { IdHeap } from './id-heap.js';
import { Moves } from './moves.js';
import { CHUNK_SLOTS, DESCRIPTOR_BYTES, SlotState, chunkLayout, type ChunkLayout } from './layout.js';
import type { Reclaimer } from './reclaimer.js';
import { Segment, type RecordLoc, type SegmentGraph } from './segment.js';
import type { IndexSettings } from './settings.js';

export interface CollectionInfo {
  readonly name: string;
  readonly dimension: number;
  readonly metric: Metric;
  readonly settings: IndexSettings;
}

export interface RecordView {
  id: string;
  embedding: Float32Array;
  metadata: Metadata | null;
  document: string | null;
}

/** What a worker needs to search a collection; `directory` names the same in shared memory (directory.ts). */
export interface CollectionTarget extends DirectoryBody {
  directory: DirectoryRef;
}

/** A target plus the segments its results refer to (result ref = segment index × 2^32 + slot). */
export interface SearchView {
  target: CollectionTarget;
  segments: Segment[];
}

export const REF_SEGMENT = 2 ** 32;

export interface SegmentPolicy {
  /** Slots of a growing segment before it is frozen for sealing. */
  segmentRecords: number;
}

export class CollectionStore implements CollectionInfo {
  readonly name: string;
  readonly dimension: number;
  readonly metric: Metric;
  readonly settings: IndexSettings;
  readonly layout: ChunkLayout;
  /** Oldest first; sealed and frozen segments, then the growing one (if any). */
  private segments: Segment[] = [];
  private readonly idToLoc = new Map<string, RecordLoc>();
  private spare: number[] = [];
  /** Descriptors reserved for segments a reserved batch will open (see reserve). */
  private spareDescriptors: number[] = [];
  private nextSerial = 1;
  private nextVersion = 1;
  private dropped = false;
  private view: SearchView | null = null;
  /** The slot in the shared catalog (catalog.ts), -1 without one (yet: a freed one is given later). */
  private catalogSlot: number;
  /** How the catalog hands this collection a slot freed later, when it had none at first. */
  private readonly catalogWaiter: CatalogWaiter;
  /** Whether this collection's slot has had a publication (its generation is no longer 0). */
  private catalogPublished = false;
  /** The entry the catalog names now (not retired while it does, even when no longer `view`'s). */
  private published: DirectoryRef | null = null;
  /** The catalog may name an out-of-date view (a write or segment change since the last publication). */
  private stale = false;
  private publishQueued = false;
  /** This collection's ids in the arena (id-heap.ts). */
  readonly idHeap: IdHeap;
  /** Bumped by every write; the indexer reads it to tell an idle collection. */
  writes = 0;
  lastWriteAt = 0;

  constructor(
    info: CollectionInfo,
    /** Unique per incarnation of the collection (a re-created one gets a new one): names its graph folder. */
    readonly uid: string,
    private readonly arena: Arena,
    private readonly reclaimer: Reclaimer,
    private readonly policy: SegmentPolicy,
    /** Called when a segment was frozen and waits for its graph. */
    private readonly onFrozen: (c: CollectionStore) => void = () => {},
    /** The shared catalog, when threads look collections up by name (the query port). */
    private readonly catalog?: Catalog,
  ) {
    this.name = info.name;
    this.dimension = info.dimension;
    this.metric = info.metric;
    this.settings = info.settings;
    this.layout = chunkLayout(info.dimension);
    this.idHeap = new IdHeap(arena);
    this.catalogWaiter = {
      name: info.name,
      slotted: (slot) => {
        this.catalogSlot = slot;
        this.publish();
      },
    };
    this.catalogSlot = catalog ? catalog.add(this.catalogWaiter) : -1;
    this.publish();
  }

  /** Live records. */
  get count(): number {
    return this.idToLoc.size;
  }

  get isDropped(): boolean {
    return this.dropped;
  }

  has(id: string): boolean {
    return this.idToLoc.has(id);
  }

  list(): readonly Segment[] {
    return this.segments;
  }

  get growing(): Segment | undefined {
    const last = this.segments.at(-1);
    return last?.phase === 'growing' ? last : undefined;
  }

  /**
   * A frozen description for search tasks; segments added later are not in it. The same object
   * is handed out until the next write or segment change, so concurrent queries share it (and
   * the pool can send them to the workers together).
   */
  searchView(): SearchView {
    if (this.view) return this.view;
    this.assertOpen(); // a dropped collection's entry would never be retired
    const segments = this.segments.slice();
    const body: DirectoryBody = { dimension: this.dimension, metric: this.metric, settings: this.settings, segments: segments.map((s) => s.target()) };
    this.view = { target: { ...body, directory: writeEntry(this.arena, body) }, segments };
    return this.view;
  }

  /**
   * The view is out of date: the next query gets a new one; its directory entry goes once no
   * reader holds it — or, while the catalog names it, once the catalog names a newer one.
   */
  private dropView(): void {
    const view = this.view;
    if (view) {
      this.view = null;
      const ref = view.target.directory;
      if (ref !== this.published) this.retireEntry(ref);
    }
    if (this.catalogSlot < 0) return;
    this.stale = true;
    if (!this.publishQueued) {
      // After the whole synchronous step (a batch, a merge's install), before any acknowledgement
      // (which waits for the WAL's sync): readers of the catalog never see a step half-done.
      this.publishQueued = true;
      queueMicrotask(() => {
        this.publishQueued = false;
        if (this.stale) this.publish();
      });
    }
  }

  /**
   * Makes the current view the catalog's (catalog.ts: entry, then generation, then the old entry
   * retired). Never throws: when even the arena's headroom has no room for the view's entry, the
   * catalog names no entry for the collection (the query port answers INDEX_FULL for it, as the
   * main port does for a query then) until a later write publishes one.
   */
  private publish(): void {
    if (this.catalogSlot < 0 || this.dropped) return;
    let ref: DirectoryRef | null;
    try {
      ref = this.searchView().target.directory;
    } catch (err) {
      if (!(err instanceof HotvecError && err.code === 'HOTVEC_INDEX_FULL')) throw err;
      ref = null;
    }
    this.stale = false;
    const old = this.published;
    // The first publication names no entry either when the arena is full: it moves the generation off 0 (catalog.ts).
    if (ref === old && this.catalogPublished) return;
    this.catalog!.publish(this.catalogSlot, ref);
    this.catalogPublished = true;
    this.published = ref;
    // Its view was dropped already (else it would be `ref`); it stayed only for the catalog.
    if (old) this.retireEntry(old);
  }

  /** A directory entry no longer handed out goes back once no reader holds it. */
  private retireEntry(ref: DirectoryRef): void {
    this.reclaimer.retire(() => freeEntry(this.arena, ref));
  }

  /** The id a search result refers to, or undefined when that record was deleted or overwritten since. */
  resolve(view: SearchView, ref: number): RecordLoc & { id: string } | undefined {
    const seg = view.segments[Math.floor(ref / REF_SEGMENT)];
    if (!seg) return undefined;
    const slot = ref % REF_SEGMENT;
    const id = seg.id(slot);
    if (id === undefined) return undefined;
    const loc = this.idToLoc.get(id);
    if (!loc || loc.seg.versions[loc.slot] !== seg.versions[slot]) return undefined;
    return { id, seg: loc.seg, slot: loc.slot };
  }

  /**
   * Writes a batch. `embeddings` holds ids.length × dimension values (validated by the caller).
   * Throws INDEX_FULL before changing anything when the arena cannot hold the batch.
   */
  upsert(ids: readonly string[], embeddings: Float32Array, metadatas?: readonly (Metadata | null)[], documents?: readonly (string | null)[]): void {
    this.assertOpen();
    this.reserveFor(ids);
    const dim = this.dimension;
    let seg = this.writableSegment();
    for (let r = 0; r < ids.length; r++) {
      const id = ids[r]!;
      if (seg.room === 0) {
        seg.publish();
        this.freeze(seg);
        seg = this.writableSegment();
      }
      while (seg.chunksNeeded(1) > 0) seg.addChunk(this.spare.pop()!);
      const slot = seg.append(id, embeddings.subarray(r * dim, (r + 1) * dim), metadatas?.[r] ?? null, documents?.[r] ?? null, this.nextVersion++);
      const old = this.place(id, seg, slot);
      if (old) {
        // Publish the new copy before tombstoning the old one: a concurrent search may
        // briefly see both (callers drop duplicate ids), never neither.
        seg.publish();
        this.unplace(old);
      }
    }
    seg.publish();
    if (seg.room === 0) this.freeze(seg);
    this.touch();
  }

  /** Deletes ids that exist; returns how many were deleted. */
  delete(ids: readonly string[]): number {
    this.assertOpen();
    let n = 0;
    for (const id of ids) {
      const loc = this.idToLoc.get(id);
      if (!loc) continue;
      this.idToLoc.delete(id);
      this.unplace(loc);
      n++;
    }
    if (n > 0) this.touch();
    return n;
  }

  /** Records for the ids that exist, in request order. Embeddings are copies. */
  get(ids: readonly string[]): RecordView[] {
    const out: RecordView[] = [];
    for (const id of ids) {
      const loc = this.idToLoc.get(id);
      if (loc) out.push(this.recordAt(loc.seg, loc.slot));
    }
    return out;
  }

  recordAt(seg: Segment, slot: number): RecordView {
    return { id: seg.id(slot)!, embedding: seg.vector(slot), metadata: seg.metadatas[slot] ?? null, document: seg.documents[slot] ?? null };
  }

  /** Allocates what a batch of records with these ids may need, all or nothing (before the WAL sees the write). */
  reserveFor(ids: readonly string[]): void {
    this.reserve(ids.length, IdHeap.bytesOf(ids));
  }

  /** Allocates the chunks and id pages that n new records with `idBytes` of ids (IdHeap.bytesOf) may need, all or nothing. */
  reserve(n: number, idBytes: number): void {
    const g = this.growing;
    let need = 0;
    let left = n;
    if (g) {
      const here = Math.min(left, g.room);
      need += g.chunksNeeded(here);
      left -= here;
    }
    need += Math.ceil(left / CHUNK_SLOTS);
    const capacity = Math.ceil(this.policy.segmentRecords / CHUNK_SLOTS) * CHUNK_SLOTS;
    const segmentsNeeded = left > 0 ? Math.ceil(left / capacity) : 0;
    const added: number[] = [];
    const descriptors: number[] = [];
    try {
      while (this.spare.length + added.length < need) added.push(this.arena.alloc(this.layout.allocBytes));
      while (this.spareDescriptors.length + descriptors.length < segmentsNeeded) descriptors.push(this.arena.alloc(DESCRIPTOR_BYTES));
      this.idHeap.reserve(idBytes);
    } catch (err) {
      for (const c of added) this.arena.release(c, this.layout.allocBytes);
      for (const d of descriptors) this.arena.release(d, DESCRIPTOR_BYTES);
      throw err;
    }
    this.spare.push(...added);
    this.spareDescriptors.push(...descriptors);
  }

  /** Freezes the growing segment (the indexer does this when a collection went idle). */
  freezeGrowing(): Segment | undefined {
    const g = this.growing;
    if (g && g.count > 0) this.freeze(g);
    return g;
  }

  /** Attaches a built graph to a frozen segment: searches use it from the next task on. */
  seal(seg: Segment, graph: SegmentGraph): boolean {
    if (this.dropped || seg.phase !== 'frozen' || !this.segments.includes(seg)) return false;
    seg.graph = graph;
    seg.phase = 'sealed';
    this.dropView();
    return true;
  }

  /** Serials from this one on have not been handed out yet. */
  get serialWatermark(): number {
    return this.nextSerial;
  }

  /** Makes sure no new segment takes `serial` (its files exist from an earlier life). */
  reserveSerial(serial: number): void {
    this.nextSerial = Math.max(this.nextSerial, serial + 1);
  }

  /**
   * A new, empty segment for a merge; the caller copies the records in (see compaction)
   * and installs it with `replace`. Throws INDEX_FULL when the arena cannot hold it.
   */
  newSegment(capacity: number, serial = this.nextSerial): Segment {
    this.nextSerial = Math.max(this.nextSerial, serial + 1);
    const seg = new Segment(serial, this.layout, Math.max(CHUNK_SLOTS, Math.ceil(capacity / CHUNK_SLOTS) * CHUNK_SLOTS), this.arena, this.idHeap);
    try {
      for (let i = seg.chunksNeeded(capacity); i > 0; i--) seg.addChunk(this.arena.alloc(this.layout.allocBytes));
    } catch (err) {
      this.reclaimer.retire(() => seg.release());
      throw err;
    }
    return seg;
  }

  /**
   * A compacted segment for `sources`: fresh chunks sized for their live records, which are
   * entered at slots 0…n−1 in order; the builder copies the vectors in. Until `replace()`
   * installs it, nothing but the caller knows of it (`releaseUnused` frees it).
   */
  compacting(sources: readonly Segment[]): { merged: Segment; moves: Moves } {
    const live = sources.map((seg) => seg.liveSlots());
    const moves = new Moves(sources, live.reduce((n, l) => n + l.length, 0));
    let bytes = 0;
    live.forEach((slots, i) => {
      for (const slot of slots) {
        bytes += sources[i]!.idBytes(slot);
        moves.add(i, slot, moves.length);
      }
    });
    const merged = this.newSegment(moves.length);
    try {
      this.idHeap.reserve(bytes);
    } catch (err) {
      this.releaseUnused(merged);
      throw err;
    }
    for (let j = 0; j < moves.length; j++) merged.takeRecord(j, moves.segment(j), moves.from[j]!);
    merged.count = merged.live = moves.length;
    merged.phase = 'sealed';
    return { merged, moves };
  }

  /**
   * A merged segment over the chunks of `sources` (in order), for a merge that copies nothing:
   * source i's slot s becomes slot `base(i) + s`, and its live records are entered there. Slots
   * past a source's count (the rest of its last chunk) are DEAD holes. Tombstones set meanwhile
   * on a source are in the same memory, so the merged segment sees them. It does not own the
   * chunks until `replace()` installs it: released unused, it frees only its descriptor.
   * Sources must not take appends any more (sealed).
   */
  spanning(sources: readonly Segment[]): { merged: Segment; moves: Moves } {
    if (sources.some((s) => s.phase === 'growing')) throw new Error('a merge over chunks cannot take a growing segment');
    const chunkCount = sources.reduce((n, s) => n + s.chunks.length, 0);
    const merged = new Segment(this.nextSerial++, this.layout, chunkCount * CHUNK_SLOTS, this.arena, this.idHeap);
    merged.own(false);
    merged.spans = sources;
    const live = sources.map((seg) => {
      seg.markTailDead(); // the rest of the source's chunks becomes holes
      return seg.liveSlots();
    });
    const moves = new Moves(sources, live.reduce((n, l) => n + l.length, 0));
    sources.forEach((seg, i) => {
      const base = merged.chunks.length * CHUNK_SLOTS;
      for (const c of seg.chunks) merged.addChunk(c);
      for (const slot of live[i]!) {
        moves.add(i, slot, base + slot);
        merged.takeRecord(base + slot, seg, slot);
      }
      merged.count = base + seg.count;
    });
    // Every per-slot array spans the count (holes included): snapshots write one entry per slot.
    merged.versions.length = merged.metadatas.length = merged.documents.length = merged.count;
    merged.live = moves.length;
    merged.phase = 'sealed';
    return { merged, moves };
  }

  /**
   * Adds a segment restored from a snapshot (its chunks already hold the vectors): records by
   * slot, the slot states at the snapshot, and its graph — or none: then it comes back as the
   * growing segment (`growing`, the collection's last unsealed one) or frozen, to be sealed
   * again. Returns the live records.
   */
  adoptSegment(
    seg: Segment,
    records: { ids: string[]; metadatas: (Metadata | null)[]; documents: (string | null)[]; states: Uint8Array; count: number },
    graph: SegmentGraph | null,
    growing = false,
  ): number {
    this.idHeap.reserve(IdHeap.bytesOf(records.ids.slice(0, records.count)));
    const u8 = new Uint8Array(this.arena.buffer);
    seg.count = records.count;
    seg.markTailDead();
    for (let slot = 0; slot < records.count; slot++) {
      const live = records.states[slot] === SlotState.LIVE;
      u8[seg.stateOffset(slot)] = live ? SlotState.LIVE : SlotState.DEAD;
      seg.setId(slot, records.ids[slot] ?? '');
      seg.versions[slot] = this.nextVersion++;
      seg.metadatas[slot] = records.metadatas[slot] ?? null;
      seg.documents[slot] = records.documents[slot] ?? null;
      if (live) {
        seg.live++;
        // A snapshot holds each id live once; should one repeat it, the later copy wins, as a write would.
        const earlier = this.place(records.ids[slot]!, seg, slot);
        if (earlier) this.unplace(earlier);
      }
    }
    seg.graph = graph;
    seg.phase = graph ? 'sealed' : growing && seg.count < seg.capacity ? 'growing' : 'frozen';
    seg.publish();
    const g = this.growing;
    this.segments.splice(g ? this.segments.length - 1 : this.segments.length, 0, seg);
    this.dropView();
    if (seg.phase === 'frozen') this.onFrozen(this);
    return seg.live;
  }

  /**
   * Installs a merged segment in place of its sources; `moves` says where its records came
   * from. A record deleted or overwritten while the merge was built is tombstoned in the merged
   * segment instead of being moved. The sources are released once no task reads them. A merged
   * segment made by `spanning()` takes over their chunks.
   */
  replace(sourceSegments: readonly Segment[], merged: null): boolean;
  replace(sourceSegments: readonly Segment[], merged: Segment, moves: Moves): boolean;
  replace(sourceSegments: readonly Segment[], merged: Segment | null, moves?: Moves): boolean {
    if (this.dropped || !sourceSegments.every((s) => this.segments.includes(s))) {
      if (merged) this.reclaimer.retire(() => merged.release());
      return false;
    }
    if (merged) {
      this.moveInto(merged, moves!);
      if (merged.spans) {
        for (const s of merged.spans) s.own(false);
        merged.own(true);
        merged.spans = null; // keep no reference to the retired sources' records
      }
      merged.publish();
    } else {
      // Only all-dead segments are removed without a replacement.
      for (const s of sourceSegments) if (s.live > 0) throw new Error(`segment ${s.serial} still has ${s.live} live records`);
    }
    // The merged segment takes the place of the earliest source: never after the growing one.
    const first = Math.min(...sourceSegments.map((s) => this.segments.indexOf(s)));
    this.segments = this.segments.filter((s) => !sourceSegments.includes(s));
    if (merged) this.segments.splice(Math.min(first, this.segments.length), 0, merged);
    this.dropView();
    this.retire(sourceSegments);
    return true;
  }

  /** Gives back a segment made by `newSegment` that was never installed (a failed merge). */
  releaseUnused(seg: Segment): void {
    if (this.segments.includes(seg)) return;
    this.reclaimer.retire(() => seg.release());
  }

  /** Frees all shared memory once no task can read it. The store is unusable afterwards. */
  drop(): void {
    if (this.dropped) return;
    this.dropped = true;
    this.dropView();
    if (this.catalog && this.catalogSlot < 0) this.catalog.removeUnslotted(this.catalogWaiter);
    if (this.catalogSlot >= 0) {
      this.catalog!.remove(this.catalogSlot);
      const old = this.published;
      this.published = null;
      if (old) this.retireEntry(old);
    }
    this.idToLoc.clear();
    this.retire(this.segments.splice(0));
    const spare = this.spare.splice(0);
    const descriptors = this.spareDescriptors.splice(0);
    this.reclaimer.retire(() => {
      for (const c of spare) this.arena.release(c, this.layout.allocBytes);
      for (const d of descriptors) this.arena.release(d, DESCRIPTOR_BYTES);
      this.idHeap.close(); // after the segments' release (retired first): their chunks let go of the pages
    });
  }

  /** Segments that were removed; listeners (the graph file janitor) learn of them here. */
  onRetired: (segments: readonly Segment[]) => void = () => {};

  /**
   * Points each moved record that is still its id's current one at the merged segment (its
   * location object, the id map's value, moves: no id is decoded or looked up); tombstones the
   * others in the merged segment.
   */
  private moveInto(merged: Segment, moves: Moves): void {
    for (let j = 0; j < moves.length; j++) {
      const seg = moves.segment(j);
      const from = moves.from[j]!;
      const slot = moves.to[j]!;
      const loc = seg.locs[from];
      if (loc && loc.seg === seg && loc.slot === from) {
        loc.seg = merged;
        loc.slot = slot;
        merged.locs[slot] = loc;
      } else {
        merged.kill(slot);
      }
    }
  }

  /** Makes (seg, slot) the current record of `id`; returns where it was before (to `unplace`). */
  private place(id: string, seg: Segment, slot: number): RecordLoc | undefined {
    const before = this.idToLoc.get(id);
    const loc = { seg, slot };
    this.idToLoc.set(id, loc);
    seg.locs[slot] = loc;
    return before;
  }

  /** Tombstones a record that is no longer its id's current one (overwritten or deleted). */
  private unplace(loc: RecordLoc): void {
    loc.seg.locs[loc.slot] = undefined;
    loc.seg.kill(loc.slot);
  }

  private retire(segments: readonly Segment[]): void {
    if (segments.length === 0) return;
    // The catalog must stop naming a view with these segments before they are retired: a reader
    // that pins after this retirement may load only entries without them (catalog.ts).
    if (this.stale) this.publish();
    this.reclaimer.retire(() => {
      for (const s of segments) s.release();
      this.onRetired(segments);
    });
  }

  private writableSegment(): Segment {
    const g = this.growing;
    if (g && g.room > 0) return g;
    const seg = new Segment(this.nextSerial++, this.layout, Math.ceil(this.policy.segmentRecords / CHUNK_SLOTS) * CHUNK_SLOTS, this.arena, this.idHeap, this.spareDescriptors.pop());
    this.segments.push(seg);
    return seg;
  }

  private freeze(seg: Segment): void {
    seg.phase = 'frozen';
    this.dropView();
    this.onFrozen(this);
  }

  private touch(): void {
    this.dropView();
    this.writes++;
    this.lastWriteAt = performance.now();
  }

  private assertOpen(): void {
    if (this.dropped) throw new HotvecError('INTERNAL', `collection ${this.name} was dropped`);
  }
}
