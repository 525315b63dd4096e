/**
 * Rebuilds the in-memory index at start:
 *   1. hydrate every hotvec collection from Chroma (the system of record), then
 *   2. replay the WAL records after the checkpoint (everything Chroma has not confirmed),
 *      applying each to the index and queueing it again for Chroma.
 * Ops are whole-record upserts and deletes applied in seq order, so replaying an op that
 * Chroma already had (confirmed but not yet checkpointed) ends in the same state.
 */
import type { VectorIndex } from '../vector-index/vector-index.js';
import type { ChromaTier } from './chroma-tier.js';
import type { WriteBehindFlusher } from './flusher.js';
import { decodeOp } from './ops.js';
import type { Wal } from './wal.js';

export interface RecoveryProgress {
  phase: 'hydrate' | 'replay';
  collection?: string;
  records: number;
}

export interface RecoveryReport {
  collections: number;
  hydratedRecords: number;
  replayedOps: number;
  seconds: number;
}

export interface RecoveryInput {
  index: VectorIndex;
  tier: ChromaTier;
  wal: Wal;
  flusher: WriteBehindFlusher;
  checkpointSeq: number;
  pageSize?: number;
  onProgress?: (p: RecoveryProgress) => void;
}

export async function recover(input: RecoveryInput): Promise<RecoveryReport> {
  const started = performance.now();
  const { index, tier, wal, flusher } = input;
  let hydrated = 0;
  const collections = await tier.listCollections();
  for (const c of collections) {
    index.apply({ t: 'create', seq: 0, collection: c.name, dimension: c.dimension, metric: c.metric });
    for await (const page of tier.scan(c.name, input.pageSize ?? 1000)) {
      if (page.ids.length === 0) continue;
      index.apply({
        t: 'upsert',
        seq: 0,
        collection: c.name,
        ids: page.ids,
        embeddings: page.embeddings,
        metadatas: page.metadatas,
        documents: page.documents,
      });
      hydrated += page.ids.length;
      input.onProgress?.({ phase: 'hydrate', collection: c.name, records: hydrated });
    }
  }
  let replayed = 0;
  for await (const rec of wal.replay(input.checkpointSeq)) {
    const op = decodeOp(rec.seq, rec.payload);
    index.apply(op);
    flusher.enqueue(op);
    replayed++;
    if (replayed % 1000 === 0) input.onProgress?.({ phase: 'replay', records: replayed });
  }
  flusher.markDurable(wal.durableSeq);
  return { collections: collections.length, hydratedRecords: hydrated, replayedOps: replayed, seconds: (performance.now() - started) / 1000 };
}
