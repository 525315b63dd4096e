/**
 * k-NN query: the search runs in pool workers over the shared arena and the sealed
 * segments' graphs; this thread maps the returned refs to ids and attaches what `include`
 * asks for. `ef` (HNSW search expansion) and `exact` (scan everything) are per query.
 */
import { HotvecError } from '../errors.js';
import type { Metadata } from '../persist/ops.js';
import type { SearchOptions } from '../vector-index/scan.js';
import type { Segment } from '../vector-index/segment.js';
import { assertReady, type ServiceContext } from './context.js';
import { QUERY_INCLUDE, collectionName, embeddings, include, requestObject } from './validate.js';

const QUERY_FIELDS = ['embeddings', 'k', 'include', 'ef', 'exact'] as const;

export interface QueryResult {
  ids: string[][];
  distances?: number[][];
  embeddings?: Float32Array[][];
  metadatas?: (Metadata | null)[][];
  documents?: (string | null)[][];
}

/** Largest per-query HNSW expansion accepted. */
export const MAX_EF = 4096;

/** A query request, validated against its collection. */
export interface ParsedQuery {
  /** nq × dimension. */
  vectors: Float32Array;
  k: number;
  include: Set<string>;
  options: SearchOptions;
}

/** Validates a query's fields (`req`: the body's object) for a collection of `dimension`. Shared by the main thread and the query port. */
export function parseQuery(req: Record<string, unknown>, dimension: number, limits: { maxBatch: number; maxK: number }): ParsedQuery {
  const vectors = embeddings(req.embeddings, 'embeddings', dimension, limits.maxBatch);
  const k = req.k ?? 10;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > limits.maxK) {
    throw new HotvecError('INVALID_ARGUMENT', `"k" must be an integer from 1 to ${limits.maxK}, got ${JSON.stringify(k)}`);
  }
  const inc = include(req.include, QUERY_INCLUDE, ['distances']);
  const options: SearchOptions = {};
  if (req.ef !== undefined) {
    if (typeof req.ef !== 'number' || !Number.isInteger(req.ef) || req.ef < 1 || req.ef > MAX_EF) {
      throw new HotvecError('INVALID_ARGUMENT', `"ef" must be an integer from 1 to ${MAX_EF}, got ${JSON.stringify(req.ef)}`);
    }
    options.ef = req.ef;
  }
  if (req.exact !== undefined) {
    if (typeof req.exact !== 'boolean') throw new HotvecError('INVALID_ARGUMENT', `"exact" must be true or false, got ${JSON.stringify(req.exact)}`);
    if (req.exact) options.exact = true;
  }
  return { vectors, k, include: inc, options };
}

/** The request object of a query body (unknown fields refused). */
export const queryRequest = (body: unknown): Record<string, unknown> => requestObject(body, 'query', QUERY_FIELDS);

export async function query(ctx: ServiceContext, name: string, body: unknown): Promise<QueryResult> {
  assertReady(ctx);
  const req = queryRequest(body);
  const store = ctx.index.require(collectionName(name));
  const dim = store.dimension;
  const { vectors, k, include: inc, options } = parseQuery(req, dim, ctx.config);
  const nq = vectors.length / dim;
  // Before the dispatch: the pool transfers (empties) `vectors`, and a hit skips the pool entirely.
  const cached = ctx.cache?.lookup({ collection: store.name, vectors, k, include: inc, options: { ef: options.ef, exact: options.exact } });
  if (cached?.hit) return cached.hit;
  const epoch = ctx.index.reclaimer.enter();
  try {
    const view = store.searchView();
    const { refs, distances } = await ctx.pool.search(view.target, vectors, k, options);
    if (ctx.index.get(store.name) !== store) throw new HotvecError('COLLECTION_NOT_FOUND', `collection "${store.name}" was deleted during the query`);
    const out: QueryResult = { ids: [] };
    if (inc.has('distances')) out.distances = [];
    if (inc.has('embeddings')) out.embeddings = [];
    if (inc.has('metadatas')) out.metadatas = [];
    if (inc.has('documents')) out.documents = [];
    for (let q = 0; q < nq; q++) {
      const rowIds: string[] = [];
      const rowRecs: { seg: Segment; slot: number }[] = [];
      const rowDist: number[] = [];
      const seen = new Set<string>();
      for (let i = q * k; i < (q + 1) * k; i++) {
        const ref = refs[i]!;
        if (ref < 0) break;
        const hit = store.resolve(view, ref);
        // Deleted after the search, or the old copy of an id overwritten during it.
        if (hit === undefined || seen.has(hit.id)) continue;
        seen.add(hit.id);
        rowIds.push(hit.id);
        rowRecs.push(hit);
        rowDist.push(distances[i]!);
      }
      out.ids.push(rowIds);
      out.distances?.push(rowDist);
      if (out.embeddings || out.metadatas || out.documents) {
        const recs = rowRecs.map((r) => store.recordAt(r.seg, r.slot));
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
