/**
 * A query answered from start to finish in the query worker that took the request: the
 * collection's current view from the shared catalog, validation, the worker's own cache, the
 * search, and the ids read from the shared id table. Only ids and distances: metadatas,
 * documents and embeddings live on the main thread (the main port serves them).
 *
 * Consistency, as on the main port: an answer reflects every write acknowledged before the
 * request arrived (the catalog names a view with it before the acknowledgement). A hit whose
 * slot is no longer live when its id is read, after the search, is left out; a write during the
 * request may otherwise show or not (a record deleted after a copying merge of its segment is
 * tombstoned in the merged copy, so a reader still scanning the retired source finds it, where
 * the main thread's version check would leave it out). Cached answers are kept per collection generation (catalog.ts): a write
 * publishes a new view with a new generation, and the first lookup that sees it drops the
 * collection's cached answers.
 */
import type { QueryCache } from '../cache/query-cache.js';
import { HotvecError } from '../errors.js';
import { parseQuery, queryRequest, type QueryResult } from '../service/query.js';
import { collectionName } from '../service/validate.js';
import type { CatalogReader } from '../vector-index/catalog.js';
import { REF_SEGMENT } from '../vector-index/collection.js';
import type { DirectoryBody, DirectoryReader } from '../vector-index/directory.js';
import type { IdReader } from '../vector-index/id-heap.js';
import { CHUNK_SLOTS, SlotState, chunkLayout } from '../vector-index/layout.js';
import type { ReaderEpochs } from '../vector-index/reader-epochs.js';
import type { Scanner } from '../vector-index/scan.js';

export interface AnswerDeps {
  memory: WebAssembly.Memory;
  catalog: CatalogReader;
  directory: DirectoryReader;
  ids: IdReader;
  scanner: Scanner;
  epochs: ReaderEpochs;
  /** This thread's scratch slot, which is also its reader-epoch word. */
  slot: number;
  limits: { maxBatch: number; maxK: number };
  cache: QueryCache | undefined;
}

export class QueryAnswerer {
  /** Per collection: the generation this worker's cached answers were computed at. */
  private readonly generations = new Map<string, number>();
  private u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  /** The last view `catchUp` covered (the directory reader hands out the same object per entry). */
  private covered: DirectoryBody | undefined;

  constructor(private readonly deps: AnswerDeps) {}

  answer(rawName: string, body: unknown): QueryResult {
    const { catalog, directory, epochs, slot, cache } = this.deps;
    const req = queryRequest(body);
    const name = collectionName(rawName);
    epochs.pin(slot);
    try {
      // Read before the lookup: a collection stops counting as unslotted only once it is published.
      const overflowed = catalog.overflowed;
      const current = catalog.lookup(name);
      if (!current) {
        if (overflowed) throw new HotvecError('NOT_READY', `collection "${name}" is not served by the query port (more collections than its catalog holds); query it on the main port`);
        throw new HotvecError('COLLECTION_NOT_FOUND', `collection "${name}" does not exist`);
      }
      if (!current.entry) throw new HotvecError('INDEX_FULL', `the shared vector arena has no room for the current view of collection "${name}"; it comes back once deletes or compaction free some`);
      const target = directory.read(current.entry);
      const q = parseQuery(req, target.dimension, this.deps.limits);
      for (const field of q.include) {
        if (field !== 'distances') throw new HotvecError('INVALID_ARGUMENT', `the query port answers ids and distances only; ask for "${field}" on the main port`);
      }
      const nq = q.vectors.length / target.dimension;
      let cached: ReturnType<QueryCache['lookup']> | undefined;
      if (cache) {
        if (this.generations.get(name) !== current.generation) {
          cache.invalidate(name);
          this.generations.set(name, current.generation);
        }
        cached = cache.lookup({ collection: name, vectors: q.vectors, k: q.k, include: q.include, options: { ef: q.options.ef, exact: q.options.exact } });
        if (cached.hit) return cached.hit;
      }
      this.catchUp(target);
      const { refs, distances } = this.deps.scanner.search(target, q.vectors, q.k, q.options);
      const out = this.resolve(target, refs, distances, nq, q.k, q.include.has('distances'));
      return cached ? cached.fill(out) : out;
    } finally {
      epochs.unpin(slot);
    }
  }

  /** Ids of the hits still live (a record deleted or overwritten since the search is left out; one hit per id). */
  private resolve(target: DirectoryBody, refs: Float64Array, distances: Float32Array, nq: number, k: number, withDistances: boolean): QueryResult {
    const layout = chunkLayout(target.dimension);
    const u8 = this.u8;
    const out: QueryResult = { ids: [] };
    if (withDistances) out.distances = [];
    for (let q = 0; q < nq; q++) {
      const rowIds: string[] = [];
      const rowDist: number[] = [];
      const seen = new Set<string>();
      for (let i = q * k; i < (q + 1) * k; i++) {
        const ref = refs[i]!;
        if (ref < 0) break;
        const seg = target.segments[Math.floor(ref / REF_SEGMENT)];
        const slot = ref % REF_SEGMENT;
        const chunk = seg?.chunks[Math.floor(slot / CHUNK_SLOTS)];
        if (chunk === undefined) continue;
        if (Atomics.load(u8, chunk + layout.stateOffset + (slot % CHUNK_SLOTS)) !== SlotState.LIVE) continue;
        const id = this.deps.ids.read(layout, chunk, slot % CHUNK_SLOTS);
        // The old copy of an id overwritten during the search can be live beside the new one for a moment.
        if (id === undefined || seen.has(id)) continue;
        seen.add(id);
        rowIds.push(id);
        rowDist.push(distances[i]!);
      }
      out.ids.push(rowIds);
      out.distances?.push(rowDist);
    }
    return out;
  }

  /** Brings this thread's view of the memory up to every chunk the view names (another thread grew it). */
  private catchUp(target: DirectoryBody): void {
    if (target === this.covered) return;
    let end = 0;
    const bytes = chunkLayout(target.dimension).allocBytes;
    for (const s of target.segments) for (const c of s.chunks) end = Math.max(end, c + bytes);
    if (end > this.u8.length) {
      const memory = this.deps.memory;
      if (memory.buffer.byteLength < end) memory.grow(0);
      if (memory.buffer.byteLength < end) throw new Error(`shared memory is ${memory.buffer.byteLength} bytes in this worker, the view needs ${end}`);
      this.u8 = new Uint8Array(memory.buffer as unknown as SharedArrayBuffer);
    }
    this.covered = target;
  }
}
