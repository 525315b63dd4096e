/**
 * What the load consists of: `query` (k-NN of one vector), `upsert` (overwrite `batch` existing
 * records with new vectors, so the collection keeps its size) or `mixed` (each request a query
 * with probability `readRatio`, else an upsert). Everything comes from seeded streams, so two
 * runs with the same seed send the same requests.
 *
 * Queries are all distinct by default (each a fresh point near one of the data's clusters), so
 * the engine's hot-query cache does not answer them; `queryPool: N` cycles through N distinct
 * queries instead, to measure traffic with a hot set. Upsert bodies come from a pool encoded up
 * front.
 */
import { Packr } from 'msgpackr';
import { rng } from '../../test/helpers/hotvec.js';
import { clusteredVectors, rowsAsBin, vectorId } from './dataset.js';
import type { OpName } from './latency.js';

export type Scenario = 'query' | 'upsert' | 'mixed';
export const SCENARIOS: readonly Scenario[] = ['query', 'upsert', 'mixed'];
export type Encoding = 'json' | 'msgpack';

export interface WorkloadOptions {
  scenario: Scenario;
  /** Share of queries in `mixed`. */
  readRatio: number;
  collection: string;
  dim: number;
  /** Records in the collection: upserts overwrite ids `v0 … v(n-1)`. */
  n: number;
  k: number;
  /** Vectors per upsert request. */
  batch: number;
  /** HTTP body encoding; WebSocket frames are always msgpack. */
  encoding: Encoding;
  seed: number;
  /** 0: every query distinct; N: cycle through N distinct queries. */
  queryPool: number;
}

const packr = new Packr({ useRecords: false });
const POOL = 1000;

export class Workload {
  readonly ops: readonly OpName[];
  private readonly queries: Float32Array;
  private readonly queryRows: number;
  private readonly fresh: Float32Array;
  private readonly noise: () => number;
  private readonly upserts: Float32Array;
  private readonly upsertIds: string[][];
  private readonly bodies = new Map<OpName, Buffer[]>();
  private readonly cursor: Record<OpName, number> = { query: 0, upsert: 0 };
  private readonly mix: () => number;

  constructor(readonly options: WorkloadOptions) {
    const { scenario, dim, n, batch, seed } = options;
    const mixed: OpName[] = options.readRatio >= 1 ? ['query'] : options.readRatio <= 0 ? ['upsert'] : ['query', 'upsert'];
    this.ops = scenario === 'mixed' ? mixed : [scenario];
    this.mix = rng(seed + 100);
    this.queryRows = options.queryPool > 0 ? options.queryPool : POOL;
    this.queries = this.ops.includes('query') ? clusteredVectors(this.queryRows, dim, seed + 1) : new Float32Array(0);
    this.fresh = new Float32Array(dim);
    this.noise = rng(seed + 4);
    const upsertPool = Math.max(1, Math.min(POOL, Math.floor(100_000 / batch)));
    this.upserts = this.ops.includes('upsert') ? clusteredVectors(upsertPool * batch, dim, seed + 2) : new Float32Array(0);
    const pick = rng(seed + 3);
    this.upsertIds = this.ops.includes('upsert')
      ? Array.from({ length: upsertPool }, () => {
          const ids = new Set<string>();
          while (ids.size < Math.min(batch, n)) ids.add(vectorId(Math.floor(pick() * n)));
          return [...ids];
        })
      : [];
  }

  /** Fraction of the requests that are `op`. */
  share(op: OpName): number {
    if (this.options.scenario !== 'mixed') return op === this.options.scenario ? 1 : 0;
    return op === 'query' ? this.options.readRatio : 1 - this.options.readRatio;
  }

  /** The operation of the next request of a mixed stream (seeded). */
  nextOp(): OpName {
    if (this.ops.length === 1) return this.ops[0]!;
    return this.mix() < this.options.readRatio ? 'query' : 'upsert';
  }

  path(op: OpName): string {
    return `/v1/collections/${encodeURIComponent(this.options.collection)}/${op}`;
  }

  get contentType(): string {
    return this.options.encoding === 'msgpack' ? 'application/msgpack' : 'application/json';
  }

  /** The next HTTP request body of `op`. */
  httpBody(op: OpName): Buffer {
    if (op === 'query' && this.options.queryPool === 0) return this.encode(this.fields(op, this.cursor[op]++, this.options.encoding));
    let pool = this.bodies.get(op);
    if (!pool) this.bodies.set(op, (pool = this.buildBodies(op)));
    return pool[this.cursor[op]++ % pool.length]!;
  }

  /** A WebSocket request (binary frame: msgpack, embeddings as one float32 bin). */
  wsMessage(op: OpName, id: number): Buffer {
    const slot = this.cursor[op]++;
    return packr.pack({ id, op, collection: this.options.collection, ...this.fields(op, slot, 'msgpack') });
  }

  private fields(op: OpName, slot: number, encoding: Encoding): Record<string, unknown> {
    const { dim, k, batch } = this.options;
    if (op === 'query') {
      const v = this.queryVector(slot);
      return { embeddings: encoding === 'msgpack' ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : [Array.from(v)], k };
    }
    const i = slot % this.upsertIds.length;
    const ids = this.upsertIds[i]!;
    const from = i * batch;
    const embeddings =
      encoding === 'msgpack'
        ? rowsAsBin(this.upserts, dim, from, from + ids.length)
        : ids.map((_, j) => Array.from(this.upserts.subarray((from + j) * dim, (from + j + 1) * dim)));
    return { ids, embeddings };
  }

  /** Query `slot`: row `slot` of the pool, or a fresh point near a pool row (valid until the next call). */
  private queryVector(slot: number): Float32Array {
    const { dim } = this.options;
    const i = slot % this.queryRows;
    const row = this.queries.subarray(i * dim, (i + 1) * dim);
    if (this.options.queryPool > 0) return row;
    for (let j = 0; j < dim; j++) this.fresh[j] = row[j]! + (this.noise() - 0.5) * 0.05;
    return this.fresh;
  }

  private encode(fields: Record<string, unknown>): Buffer {
    return this.options.encoding === 'msgpack' ? packr.pack(fields) : Buffer.from(JSON.stringify(fields));
  }

  private buildBodies(op: OpName): Buffer[] {
    const size = op === 'query' ? this.queryRows : this.upsertIds.length;
    return Array.from({ length: size }, (_, slot) => this.encode(this.fields(op, slot, this.options.encoding)));
  }
}
