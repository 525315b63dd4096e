/**
 * The engine's in-memory state: every collection's store over one shared arena.
 * `apply` is the only way writes get in, so recovery (WAL replay, Chroma hydration) and live
 * writes go through exactly the same code.
 */
import { randomBytes } from 'node:crypto';
import { HotvecError } from '../errors.js';
import type { WriteOp } from '../persist/ops.js';
import { Arena, type ArenaOptions } from './arena.js';
import { Catalog } from './catalog.js';
import { CollectionStore, type CollectionInfo, type SegmentPolicy } from './collection.js';
import { ReaderEpochs } from './reader-epochs.js';
import { Reclaimer } from './reclaimer.js';
import type { Segment } from './segment.js';
import { resolveSettings, type IndexSettings } from './settings.js';

export interface VectorIndexOptions extends ArenaOptions, Partial<SegmentPolicy> {
  /** Settings for collections created without their own (Chroma's HNSW defaults when absent). */
  defaults?: IndexSettings;
  /** Keep a shared catalog of the collections' current views (catalog.ts), for threads that look them up by name. */
  catalog?: boolean;
}

export class VectorIndex {
  readonly arena: Arena;
  readonly reclaimer: Reclaimer;
  /** The shared catalog, when asked for. */
  readonly catalog: Catalog | undefined;
  private readonly collections = new Map<string, CollectionStore>();
  private readonly policy: SegmentPolicy;
  private readonly defaults: IndexSettings;
  /** Called when a collection froze a segment (the indexer seals it). */
  onFrozen: (c: CollectionStore) => void = () => {};
  /** Called once segments are retired and no task can read them (graph views and files go). */
  onRetired: (segments: readonly Segment[]) => void = () => {};

  constructor(options: VectorIndexOptions) {
    this.arena = new Arena(options);
    this.reclaimer = new Reclaimer({ epochs: new ReaderEpochs(this.arena.memory), slots: this.arena.scratch.slots });
    this.policy = { segmentRecords: options.segmentRecords ?? 16384 };
    this.defaults = resolveSettings(options.defaults);
    this.catalog = options.catalog ? new Catalog(this.arena) : undefined;
  }

  get(name: string): CollectionStore | undefined {
    return this.collections.get(name);
  }

  /** The collection, or COLLECTION_NOT_FOUND. */
  require(name: string): CollectionStore {
    const c = this.collections.get(name);
    if (!c) throw new HotvecError('COLLECTION_NOT_FOUND', `collection "${name}" does not exist`);
    return c;
  }

  list(): CollectionStore[] {
    return [...this.collections.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Applies one logical write. Ops are validated before they reach here; replay tolerates ops made moot by a later drop. */
  apply(op: WriteOp): void {
    switch (op.t) {
      case 'create': {
        const settings = resolveSettings(op.index, this.defaults);
        // An engine-wide i8 default applies to l2 and cosine collections (usearch's int8 inner product is no dot product).
        if (settings.storage === 'i8' && op.metric === 'ip') settings.storage = 'f16';
        const info: CollectionInfo = { name: op.collection, dimension: op.dimension, metric: op.metric, settings };
        this.add(info);
        return;
      }
      case 'drop':
        this.collections.get(op.collection)?.drop();
        this.collections.delete(op.collection);
        // Its catalog slot, now free, goes to a collection that waited for one (if any).
        this.catalog?.seatWaiting();
        return;
      case 'upsert':
        this.collections.get(op.collection)?.upsert(op.ids, op.embeddings, op.metadatas, op.documents);
        return;
      case 'delete':
        this.collections.get(op.collection)?.delete(op.ids);
        return;
    }
  }

  /** Creates (or re-creates) a collection; `uid` names its graph folder (fresh unless restoring). */
  add(info: CollectionInfo, uid = `${info.name}.${randomBytes(6).toString('hex')}`): CollectionStore {
    this.collections.get(info.name)?.drop();
    const store = new CollectionStore(info, uid, this.arena, this.reclaimer, this.policy, (c) => this.onFrozen(c), this.catalog);
    store.onRetired = (segments) => this.onRetired(segments);
    this.collections.set(info.name, store);
    return store;
  }

  /** Total records over all collections. */
  get records(): number {
    let n = 0;
    for (const c of this.collections.values()) n += c.count;
    return n;
  }
}
