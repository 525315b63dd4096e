/**
 * What every service operation needs. HTTP and WebSocket handlers build nothing themselves:
 * they decode, call an operation with this context, and encode its result.
 */
import type { QueryCache } from '../cache/query-cache.js';
import type { Config } from '../config.js';
import type { Indexer } from '../graph/indexer.js';
import { HotvecError } from '../errors.js';
import type { WriteBehindFlusher } from '../persist/flusher.js';
import { encodeOp, type NewOp, type WriteOp } from '../persist/ops.js';
import type { Wal } from '../persist/wal.js';
import type { QueryPool } from '../pool/pool.js';
import type { VectorIndex } from '../vector-index/vector-index.js';

export interface ServiceContext {
  readonly config: Config;
  readonly index: VectorIndex;
  readonly pool: QueryPool;
  readonly wal: Wal;
  readonly flusher: WriteBehindFlusher;
  /** The hot-query cache; absent when disabled (`cacheBytes` 0). */
  readonly cache?: QueryCache;
  /** Background sealing and merging of segments; absent in tests that do without graphs. */
  readonly indexer?: Indexer;
  /** False while recovering or stopping: every operation but health answers NOT_READY. */
  ready(): boolean;
}

export function assertReady(ctx: ServiceContext): void {
  if (!ctx.ready()) throw new HotvecError('NOT_READY', 'hotvec is not ready (starting, recovering or stopping); retry shortly');
}

/**
 * Makes one write durable and visible. The op gets its seq from the WAL, is applied to the
 * index and queued for Chroma at once (in seq order, on this thread), and the promise
 * resolves only once the WAL record is durable: the client is acknowledged for nothing less.
 */
export async function commit(ctx: ServiceContext, op: NewOp): Promise<WriteOp> {
  const { seq, durable } = ctx.wal.append(encodeOp(op));
  const full = { ...op, seq } as WriteOp;
  // In the same synchronous step as the apply: no query can start between the two.
  ctx.cache?.invalidate(op.collection);
  ctx.index.apply(full);
  ctx.flusher.enqueue(full);
  await durable;
  return full;
}
