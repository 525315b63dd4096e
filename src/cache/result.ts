/**
 * A query answer as the cache keeps it: deeply frozen, so no caller can change what later
 * callers are served, and sized in bytes for the cache's bound. Float32Arrays cannot be
 * frozen, so embeddings are the one part handed out as fresh copies.
 */
import type { Metadata } from '../persist/ops.js';
import type { QueryResult } from '../service/query.js';

/**
 * Freezes an answer the query just built. Its metadata objects belong to the collection store,
 * so they are copied rather than frozen in place.
 */
export function freezeResult(r: QueryResult): QueryResult {
  const out: QueryResult = { ids: freezeRows(r.ids) };
  if (r.distances) out.distances = freezeRows(r.distances);
  if (r.documents) out.documents = freezeRows(r.documents);
  if (r.metadatas) out.metadatas = freezeRows(r.metadatas.map((row) => row.map((m) => (m === null ? null : Object.freeze({ ...m })))));
  if (r.embeddings) out.embeddings = freezeRows(r.embeddings.map((row) => row.map((e) => e.slice())));
  return Object.freeze(out);
}

/** What a caller gets for a frozen answer: the answer itself, or a copy with its own embeddings. */
export function shareResult(frozen: QueryResult): QueryResult {
  if (!frozen.embeddings) return frozen;
  return Object.freeze({ ...frozen, embeddings: freezeRows(frozen.embeddings.map((row) => row.map((e) => e.slice()))) });
}

function freezeRows<T>(rows: T[][]): T[][] {
  for (const row of rows) Object.freeze(row);
  return Object.freeze(rows) as T[][];
}

// Rough V8 heap costs (64-bit, pointer compression off to stay on the safe side).
const OBJECT = 56;
const ARRAY = 32;
const SLOT = 8;
const STRING = 24;
const TYPED_ARRAY = 96;

const stringBytes = (s: string): number => STRING + 2 * s.length;

function metadataBytes(m: Metadata | null): number {
  if (m === null) return SLOT;
  let n = OBJECT + SLOT;
  for (const [key, value] of Object.entries(m)) n += 2 * SLOT + stringBytes(key) + (typeof value === 'string' ? stringBytes(value) : SLOT);
  return n;
}

/** Estimated heap bytes of an answer plus its key: what the cache's byte bound counts. */
export function entryBytes(key: string, r: QueryResult): number {
  let n = OBJECT + STRING + key.length; // keys are built from latin1: one byte per character
  const rows = (values: unknown[][], each: (v: never) => number): void => {
    n += ARRAY + SLOT * values.length;
    for (const row of values) {
      n += ARRAY + SLOT * row.length;
      for (const v of row) n += each(v as never);
    }
  };
  rows(r.ids, (id: string) => stringBytes(id));
  if (r.distances) rows(r.distances, () => 0);
  if (r.embeddings) rows(r.embeddings, (e: Float32Array) => TYPED_ARRAY + e.byteLength);
  if (r.metadatas) rows(r.metadatas, (m: Metadata | null) => metadataBytes(m));
  if (r.documents) rows(r.documents, (d: string | null) => (d === null ? 0 : stringBytes(d)));
  return n;
}
