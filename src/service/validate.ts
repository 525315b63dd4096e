/**
 * Request validation shared by every operation. Messages name the field and say what was
 * expected. Embeddings are checked by hand: a schema library walking 784 × 1000 numbers
 * is measurably slower than one typed loop.
 */
import { z } from 'zod';
import { HotvecError, invalid } from '../errors.js';
import { float32FromBytes, type Metadata } from '../persist/ops.js';
import { wellFormed } from '../vector-index/id-heap.js';
import { Float32Rows } from './float32-rows.js';

export const COLLECTION_NAME = /^[A-Za-z0-9_.-]{0,127}[A-Za-z0-9]$/;
export const MAX_ID_LENGTH = 1024;

export function collectionName(value: unknown): string {
  if (typeof value !== 'string' || !COLLECTION_NAME.test(value)) {
    throw invalid(`"name" must be 1-128 characters of letters, digits, "_", "-", "." ending in a letter or digit; got ${JSON.stringify(value)?.slice(0, 140)}`);
  }
  return value;
}

/** Parses a body against a zod schema; the first problem becomes a 400 naming the field. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HotvecError('MALFORMED_BODY', 'the request body must be a JSON or msgpack object');
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = issue.path.length ? issue.path.map(String).join('.') : 'body';
  throw invalid(`"${field}": ${issue.message}`);
}

export function ids(value: unknown, field: string, maxBatch: number, unique: boolean): string[] {
  if (!Array.isArray(value)) throw invalid(`"${field}" must be an array of strings`);
  if (value.length > maxBatch) throw invalid(`"${field}" has ${value.length} entries; at most ${maxBatch} per request (maxBatch)`);
  const seen = unique ? new Set<string>() : null;
  for (let i = 0; i < value.length; i++) {
    const id: unknown = value[i];
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
      throw invalid(`"${field}[${i}]" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
    }
    if (!wellFormed(id)) throw invalid(`"${field}[${i}]" holds a lone UTF-16 surrogate (no UTF-8 encoding): ids must be well-formed text`);
    if (seen) {
      if (seen.has(id)) throw new HotvecError('DUPLICATE_ID', `"${field}" holds "${id.slice(0, 100)}" more than once; ids in one batch must be unique`);
      seen.add(id);
    }
  }
  return value as string[];
}

/**
 * Embeddings as `number[][]` (JSON or msgpack arrays), as rows the JSON decoder already made
 * float32 (Float32Rows), or one msgpack `bin` of little-endian float32, row-major n × dimension.
 * Returns a fresh Float32Array (safe to transfer).
 */
export function embeddings(value: unknown, field: string, dimension: number, maxBatch: number): Float32Array {
  const vectorCount = (n: number): void => {
    if (n === 0) throw invalid(`"${field}" must hold at least one vector`);
    if (n > maxBatch) throw invalid(`"${field}" holds ${n} vectors; at most ${maxBatch} per request (maxBatch)`);
  };
  const rowLength = (r: number, length: number): void => {
    if (length !== dimension) throw new HotvecError('DIMENSION_MISMATCH', `"${field}[${r}]": expected ${dimension} numbers, got ${length}`);
  };
  if (value instanceof Float32Rows) {
    vectorCount(value.rowLengths.length);
    value.rowLengths.forEach((length, r) => rowLength(r, length));
    return value.values;
  }
  if (value instanceof Uint8Array) {
    if (value.byteLength % (4 * dimension) !== 0) {
      throw new HotvecError('DIMENSION_MISMATCH', `"${field}" is ${value.byteLength} bytes of float32, not a whole number of ${dimension}-dimensional vectors (${4 * dimension} bytes each)`);
    }
    const out = float32FromBytes(value);
    vectorCount(out.length / dimension);
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i]!)) throw invalid(`"${field}" vector ${Math.floor(i / dimension)} holds a non-finite value at position ${i % dimension}`);
    }
    return out;
  }
  if (!Array.isArray(value)) throw invalid(`"${field}" must be an array of number arrays, or (msgpack) a bin of float32`);
  vectorCount(value.length);
  const out = new Float32Array(value.length * dimension);
  for (let r = 0; r < value.length; r++) {
    const row: unknown = value[r];
    if (!Array.isArray(row)) throw invalid(`"${field}[${r}]" must be an array of ${dimension} numbers`);
    rowLength(r, row.length);
    const at = r * dimension;
    for (let j = 0; j < dimension; j++) {
      const x: unknown = row[j];
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw invalid(`"${field}[${r}][${j}]" must be a finite number, got ${typeof x === 'number' ? String(x) : JSON.stringify(x) ?? typeof x}`);
      }
      const f = Math.fround(x);
      if (!Number.isFinite(f)) throw invalid(`"${field}[${r}][${j}]" = ${x} overflows float32`);
      out[at + j] = f;
    }
  }
  return out;
}

/** Optional per-record array (metadatas, documents) whose length must match ids. */
export function perRecord<T>(value: unknown, field: string, n: number, check: (v: unknown, at: string) => T | null): (T | null)[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw invalid(`"${field}" must be an array with one entry per id`);
  if (value.length !== n) throw invalid(`"${field}" has ${value.length} entries for ${n} ids; expected one per id`);
  let any = false;
  const out = value.map((v, i) => {
    const r = v === null || v === undefined ? null : check(v, `${field}[${i}]`);
    if (r !== null) any = true;
    return r;
  });
  return any ? out : undefined;
}

export function metadata(value: unknown, at: string): Metadata | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw invalid(`"${at}" must be a flat object of strings, numbers and booleans, or null`);
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return null;
  for (const [k, v] of entries) {
    if (k.length === 0) throw invalid(`"${at}" has an empty key`);
    // Chroma (the system of record) refuses keys starting with "#" and silently drops "chroma:" ones.
    if (k.startsWith('#') || k.startsWith('chroma:')) throw invalid(`"${at}.${k}": keys starting with "#" or "chroma:" are reserved by Chroma`);
    if (typeof v === 'string' || typeof v === 'boolean') continue;
    if (typeof v === 'number' && Number.isFinite(v)) continue;
    throw invalid(`"${at}.${k}" must be a string, a finite number or a boolean (metadata is flat)`);
  }
  return value as Metadata;
}

export function document(value: unknown, at: string): string | null {
  if (typeof value !== 'string') throw invalid(`"${at}" must be a string or null`);
  return value;
}

export const QUERY_INCLUDE = ['distances', 'metadatas', 'documents', 'embeddings'] as const;
export const GET_INCLUDE = ['metadatas', 'documents', 'embeddings'] as const;

export function include<T extends string>(value: unknown, allowed: readonly T[], defaults: readonly T[]): Set<T> {
  if (value === undefined || value === null) return new Set(defaults);
  if (!Array.isArray(value)) throw invalid(`"include" must be an array drawn from ${JSON.stringify(allowed)}`);
  for (const v of value) {
    if (!allowed.includes(v as T)) throw invalid(`"include" has ${JSON.stringify(v)}; allowed: ${allowed.join(', ')}`);
  }
  return new Set(value as T[]);
}

/**
 * Why a field hotvec does not take was sent, for the fields a client ported from Chroma sends:
 * Chroma's name for a hotvec field, or what hotvec does not do.
 */
const FIELD_HINTS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  query: {
    query_embeddings: `Chroma's "query_embeddings" is "embeddings" in hotvec`,
    n_results: `Chroma's "n_results" is "k" in hotvec`,
    where: 'hotvec does not filter by metadata',
    where_document: 'hotvec does not filter by document',
  },
  get: { where: 'hotvec does not filter by metadata', where_document: 'hotvec does not filter by document' },
  delete: { where: 'hotvec deletes by id only', where_document: 'hotvec deletes by id only' },
  create_collection: {
    metadata: `Chroma's "hnsw:space" and other "hnsw:*" settings are "metric" and "index" in hotvec`,
    configuration: `Chroma's HNSW configuration is "index" ({m, efConstruction, efSearch, storage}) in hotvec`,
    get_or_create: 'hotvec answers 409 HOTVEC_COLLECTION_EXISTS; get the collection instead',
  },
};

/**
 * The body of an operation as an object holding only `fields`: an unknown field is a 400
 * naming it (a misspelt `exact` must not silently run an approximate query, a misspelt
 * `metric` must not create an l2 collection), with a hint for the fields Chroma clients send.
 */
export function requestObject(body: unknown, op: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || body instanceof Uint8Array) {
    throw new HotvecError('MALFORMED_BODY', 'the request body must be a JSON or msgpack object');
  }
  for (const key of Object.keys(body)) {
    if (fields.includes(key)) continue;
    const hints = FIELD_HINTS[op];
    const hint = hints && Object.hasOwn(hints, key) ? hints[key] : undefined;
    const takes = fields.length > 0 ? `${op} takes ${fields.map((f) => `"${f}"`).join(', ')}` : `${op} takes no fields`;
    throw invalid(`unknown field ${JSON.stringify(key.slice(0, 100))} in ${op}${hint ? ` (${hint})` : ''}; ${takes}`);
  }
  return body as Record<string, unknown>;
}
