/**
 * The engine's in-memory state: every collection's store over one shared arena.
 * `apply` is the only way writes get in, so recovery (WAL replay, Chroma hydration) and live
 * writes go through exactly the same code.
 */
import { HotvecError } from '../errors.js';
import type { WriteOp } from '../persist/ops.js';
import { Arena, type ArenaOptions } from './arena.js';
import { CollectionStore, type CollectionInfo } from './collection.js';
import { Reclaimer } from './reclaimer.js';

export class VectorIndex {
  readonly arena: Arena;
  readonly reclaimer = new Reclaimer();
  private readonly collections = new Map<string, CollectionStore>();

  constructor(options: ArenaOptions) {
    this.arena = new Arena(options);
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
        this.collections.get(op.collection)?.drop();
        const info: CollectionInfo = { name: op.collection, dimension: op.dimension, metric: op.metric };
        this.collections.set(op.collection, new CollectionStore(info, this.arena, this.reclaimer));
        return;
      }
      case 'drop':
        this.collections.get(op.collection)?.drop();
        this.collections.delete(op.collection);
        return;
      case 'upsert':
        this.collections.get(op.collection)?.upsert(op.ids, op.embeddings, op.metadatas, op.documents);
        return;
      case 'delete':
        this.collections.get(op.collection)?.delete(op.ids);
        return;
    }
  }

  /** Total records over all collections. */
  get records(): number {
    let n = 0;
    for (const c of this.collections.values()) n += c.count;
    return n;
  }
}
