/**
 * The logical write operations of the engine. Every acknowledged write is exactly one op:
 * it is encoded into one WAL record, applied to the in-memory index, and flushed to Chroma.
 * Ops on one collection are applied everywhere in `seq` order.
 */
import { pack, unpack } from 'msgpackr';

export type Metric = 'l2' | 'cosine' | 'ip';
/** Flat metadata, as Chroma accepts it. */
export type Metadata = Record<string, string | number | boolean>;

export interface CreateOp {
  t: 'create';
  seq: number;
  collection: string;
  dimension: number;
  metric: Metric;
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
 * Float32Array is packed by msgpackr as a typed-array extension and unpacks as Float32Array.
 */
export function encodeOp(op: NewOp): Uint8Array {
  return pack(op);
}

export function decodeOp(seq: number, payload: Uint8Array): WriteOp {
  const op = unpack(payload) as NewOp;
  if (op.t === 'upsert' && !(op.embeddings instanceof Float32Array)) {
    throw new Error(`WAL record ${seq}: upsert embeddings did not decode as Float32Array`);
  }
  return { ...op, seq } as WriteOp;
}
