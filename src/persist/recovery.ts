/**
 * Rebuilds the in-memory index at start:
 *   1. from the local snapshot when there is a usable one (sealed segments and their graphs
 *      load from the data folder; nothing is rebuilt), else by hydrating every hotvec
 *      collection from Chroma (the system of record); then
 *   2. replay the WAL: records after the base state's seq are applied to the index, and
 *      records after the Chroma checkpoint are queued again for Chroma.
 * Ops are whole-record upserts and deletes applied in seq order, so replaying an op that
 * Chroma already had (confirmed but not yet checkpointed) ends in the same state.
 */
import { storableId } from '../vector-index/id-heap.js';
import { MAX_ID_BYTES } from '../vector-index/layout.js';
import type { VectorIndex } from '../vector-index/vector-index.js';
import type { ChromaPage, ChromaTier } from './chroma-tier.js';
import type { WriteBehindFlusher } from './flusher.js';
import { decodeOp } from './ops.js';
import type { RestoreReport, Snapshots } from './snapshot.js';
import type { Wal } from './wal.js';

export interface RecoveryProgress {
  phase: 'snapshot' | 'hydrate' | 'replay';
  collection?: string;
  records: number;
}

export interface RecoveryReport {
  collections: number;
  hydratedRecords: number;
  /** Records in Chroma left out of the index: their ids cannot be kept (see `storablePart`). */
  skippedRecords: number;
  replayedOps: number;
  seconds: number;
  /** Set when the base state came from the local snapshot rather than from Chroma. */
  snapshot?: RestoreReport;
}

export interface RecoveryInput {
  index: VectorIndex;
  tier: ChromaTier;
  wal: Wal;
  flusher: WriteBehindFlusher;
  checkpointSeq: number;
  /** Local snapshots; without them the base state always comes from Chroma. */
  snapshots?: Snapshots;
  pageSize?: number;
  onProgress?: (p: RecoveryProgress) => void;
  /** A snapshot was found but not used (the reason); recovery then hydrates from Chroma. */
  onWarning?: (message: string) => void;
}

/** Restores the local snapshot if it is usable with this WAL; undefined when it is not. */
async function fromSnapshot(input: RecoveryInput): Promise<RestoreReport | undefined> {
  const { snapshots, wal, index } = input;
  if (!snapshots) return undefined;
  const read = await snapshots.read();
  if (!read) return undefined;
  // A snapshot not used now is removed before any new write gets a seq: later, once the WAL
  // has handed out its seqs again, it would look usable and be wrong.
  const reject = async (why: string): Promise<undefined> => {
    await snapshots.discard();
    input.onWarning?.(`${why}; hydrating from Chroma instead`);
    return undefined;
  };
  if ('warning' in read) return reject(read.warning);
  const seq = read.body.seq;
  if (seq > wal.lastSeq) return reject(`the local snapshot is at seq ${seq}, past the WAL's last seq ${wal.lastSeq} (the WAL was replaced?)`);
  if (wal.firstSeq > Math.min(seq, input.checkpointSeq) + 1) return reject(`the WAL starts at seq ${wal.firstSeq}, after the local snapshot's seq ${seq}`);
  input.onProgress?.({ phase: 'snapshot', records: 0 });
  try {
    return await snapshots.restore(index, read.body);
  } catch (err) {
    for (const c of index.list()) index.apply({ t: 'drop', seq: 0, collection: c.name });
    return reject(`the local snapshot could not be loaded (${(err as Error).message})`);
  }
}

/**
 * The records of a Chroma page whose ids the index can keep. Chroma takes ids hotvec's API
 * refuses (longer than MAX_ID_BYTES of UTF-8, or empty), so a collection filled around hotvec
 * may hold some; they are left out (and reported) rather than failing the start.
 */
export function storablePart(page: ChromaPage, dimension: number): { page: ChromaPage; skipped: string[] } {
  const keep: number[] = [];
  const skipped: string[] = [];
  page.ids.forEach((id, i) => (storableId(id) ? keep.push(i) : skipped.push(id)));
  if (skipped.length === 0) return { page, skipped };
  const embeddings = new Float32Array(keep.length * dimension);
  keep.forEach((from, to) => embeddings.set(page.embeddings.subarray(from * dimension, (from + 1) * dimension), to * dimension));
  return {
    page: { ids: keep.map((i) => page.ids[i]!), embeddings, metadatas: keep.map((i) => page.metadatas[i] ?? null), documents: keep.map((i) => page.documents[i] ?? null) },
    skipped,
  };
}

export async function recover(input: RecoveryInput): Promise<RecoveryReport> {
  const started = performance.now();
  const { index, tier, wal, flusher } = input;
  let hydrated = 0;
  let skipped = 0;
  const snapshot = await fromSnapshot(input);
  const collections = snapshot ? [] : await tier.listCollections();
  for (const c of collections) {
    index.apply({ t: 'create', seq: 0, collection: c.name, dimension: c.dimension, metric: c.metric, ...(c.index ? { index: c.index } : {}) });
    let skippedHere = 0;
    let first: string | undefined;
    for await (const whole of tier.scan(c.name, input.pageSize ?? 1000)) {
      const { page, skipped: left } = storablePart(whole, c.dimension);
      skippedHere += left.length;
      first ??= left[0];
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
    if (first !== undefined) {
      skipped += skippedHere;
      const shown = Array.from(first); // code points: a cut never splits a surrogate pair
      input.onWarning?.(
        `collection "${c.name}": ${skippedHere} record(s) in Chroma left out of the index: their ids are empty or longer than ${MAX_ID_BYTES} UTF-8 bytes ` +
          `(first: ${Buffer.byteLength(first)} bytes, "${shown.slice(0, 40).join('')}${shown.length > 40 ? '…' : ''}"); queries will not return them`,
      );
    }
  }
  let replayed = 0;
  const applyAfter = snapshot ? snapshot.seq : input.checkpointSeq;
  for await (const rec of wal.replay(Math.min(applyAfter, input.checkpointSeq))) {
    const op = decodeOp(rec.seq, rec.payload);
    if (op.seq > applyAfter) index.apply(op);
    if (op.seq > input.checkpointSeq) flusher.enqueue(op);
    replayed++;
    if (replayed % 1000 === 0) input.onProgress?.({ phase: 'replay', records: replayed });
  }
  flusher.markDurable(wal.durableSeq);
  return {
    collections: snapshot ? snapshot.collections : collections.length,
    hydratedRecords: hydrated,
    skippedRecords: skipped,
    replayedOps: replayed,
    seconds: (performance.now() - started) / 1000,
    ...(snapshot ? { snapshot } : {}),
  };
}
