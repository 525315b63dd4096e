/**
 * k-NN query: the scan runs in a pool worker over the shared arena; this thread maps the
 * returned slots to ids and attaches what `include` asks for.
 */
import { HotvecError } from '../errors.js';
import type { Metadata } from '../persist/ops.js';
import { assertReady, type ServiceContext } from './context.js';
import { QUERY_INCLUDE, collectionName, embeddings, include, invalidIfNotObject } from './validate.js';

export interface QueryResult {
  ids: string[][];
  distances?: number[][];
  embeddings?: Float32Array[][];
  metadatas?: (Metadata | null)[][];
  documents?: (string | null)[][];
}

export async function query(ctx: ServiceContext, name: string, body: unknown): Promise<QueryResult> {
  assertReady(ctx);
  const req = invalidIfNotObject(body);
  const store = ctx.index.require(collectionName(name));
  const dim = store.dimension;
  const vectors = embeddings(req.embeddings, 'embeddings', dim, ctx.config.maxBatch);
  const k = req.k ?? 10;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > ctx.config.maxK) {
    throw new HotvecError('INVALID_ARGUMENT', `"k" must be an integer from 1 to ${ctx.config.maxK}, got ${JSON.stringify(k)}`);
  }
  const inc = include(req.include, QUERY_INCLUDE, ['distances']);
  const nq = vectors.length / dim;
  // Before the dispatch: the pool transfers (empties) `vectors`, and a hit skips the pool entirely.
  const cached = ctx.cache?.lookup({ collection: store.name, vectors, k, include: inc });
  if (cached?.hit) return cached.hit;
  const epoch = ctx.index.reclaimer.enter();
  try {
    const { slots, distances } = await ctx.pool.search(store.scanTarget(), vectors, k);
    if (ctx.index.get(store.name) !== store) throw new HotvecError('COLLECTION_NOT_FOUND', `collection "${store.name}" was deleted during the query`);
    const out: QueryResult = { ids: [] };
    if (inc.has('distances')) out.distances = [];
    if (inc.has('embeddings')) out.embeddings = [];
    if (inc.has('metadatas')) out.metadatas = [];
    if (inc.has('documents')) out.documents = [];
    for (let q = 0; q < nq; q++) {
      const rowIds: string[] = [];
      const rowSlots: number[] = [];
      const rowDist: number[] = [];
      const seen = new Set<string>();
      for (let i = q * k; i < (q + 1) * k; i++) {
        const slot = slots[i]!;
        if (slot < 0) break;
        const id = store.idAt(slot);
        // Deleted after the scan, or the old copy of an id overwritten during it.
        if (id === undefined || seen.has(id)) continue;
        seen.add(id);
        rowIds.push(id);
        rowSlots.push(slot);
        rowDist.push(distances[i]!);
      }
      out.ids.push(rowIds);
      out.distances?.push(rowDist);
      if (out.embeddings || out.metadatas || out.documents) {
        const recs = rowSlots.map((s) => store.recordAt(s));
        out.embeddings?.push(recs.map((r) => r.embedding));
        out.metadatas?.push(recs.map((r) => r.metadata));
        out.documents?.push(recs.map((r) => r.document));
      }
    }
    return cached ? cached.fill(out) : out;
  } finally {
    ctx.index.reclaimer.exit(epoch);
  }
}
