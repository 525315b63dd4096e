/**
 * The logical write operations of the engine. Every acknowledged write is exactly one op:
 * it is encoded into one WAL record, applied to the in-memory index, and flushed to Chroma.
 * Ops on one collection are applied everywhere in `seq` order.
 */
import { pack, unpack } from 'msgpackr';
import type { IndexSettings } from '../vector-index/settings.js';

export type Metric = 'l2' | 'cosine' | 'ip';
/** Flat metadata, as Chroma accepts it. */
export type Metadata = Record<string, string | number | boolean>;

export interface CreateOp {
  t: 'create';
  seq: number;
  collection: string;
  dimension: number;
  metric: Metric;
  /** HNSW settings given at create time (engine defaults fill the rest). Absent in older WAL records. */
  index?: Partial<IndexSettings>;
}

export interface DropOp {
  t: 'drop';
  seq: number;
  collection: string;
}

export interface UpsertOp {
  t: 'upsert';
  seq: number;
  collection: string;
  ids: string[];
  /** ids.length × dimension float32 values, row-major. */
  embeddings: Float32Array;
  /** One entry per id; null where the record has no metadata. Absent when no record has any. */
  metadatas?: (Metadata | null)[];
  /** One entry per id; null where the record has no document. Absent when no record has any. */
  documents?: (string | null)[];
}

export interface DeleteOp {
  t: 'delete';
  seq: number;
  collection: string;
  ids: string[];
}

export type WriteOp = CreateOp | DropOp | UpsertOp | DeleteOp;

/** Ops before the WAL has given them a sequence number. */
export type NewOp = Omit<CreateOp, 'seq'> | Omit<DropOp, 'seq'> | Omit<UpsertOp, 'seq'> | Omit<DeleteOp, 'seq'>;

/**
 * WAL payload: msgpack of the op without its seq (the WAL frames the seq itself).
 * Embeddings travel as a msgpack `bin` of little-endian float32 bytes. They are handed to
 * msgpackr as a Uint8Array view on purpose: msgpackr 2.1 packs a bare Float32Array as a
 * `bin` of element values truncated to bytes (1.5 becomes 0x01), silently losing data.
 */
export function encodeOp(op: NewOp): Uint8Array {
  if (op.t !== 'upsert') return pack(op);
  const e = op.embeddings;
  return pack({ ...op, embeddings: new Uint8Array(e.buffer, e.byteOffset, e.byteLength) });
}

export function decodeOp(seq: number, payload: Uint8Array): WriteOp {
  const op = unpack(payload) as NewOp | (Omit<UpsertOp, 'seq' | 'embeddings'> & { embeddings: Uint8Array });
  if (op.t === 'upsert') {
    const bytes = op.embeddings as unknown;
    if (!(bytes instanceof Uint8Array) || bytes.byteLength % 4 !== 0) {
      throw new Error(`WAL record ${seq}: upsert embeddings are not float32 bytes`);
    }
    return { ...op, seq, embeddings: float32FromBytes(bytes) };
  }
  return { ...op, seq } as WriteOp;
}

/** Copies little-endian float32 bytes into an aligned Float32Array (msgpack bins are unaligned). */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}
