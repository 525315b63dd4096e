/**
 * Cache keys of k-NN queries. Two queries share a key exactly when they must share an answer:
 * same collection at the same write version, bit-identical query vectors, same k, same
 * include set and the same search options. The vectors go into the key verbatim (their bytes
 * as a one-byte string), not as a hash: a hash collision would serve a wrong answer.
 */

/** Search options that change an answer (per-query `ef`, `exact`, …); undefined ones are ignored. */
export type QueryKeyOptions = Readonly<Record<string, string | number | boolean | undefined>>;

export interface QueryKeyParts {
  collection: string;
  /** The collection's write version when the query started (see `QueryCache.version`). */
  version: number;
  /** Every query vector of the request, row-major. */
  vectors: Float32Array;
  k: number;
  /** Order does not matter: the answer's shape depends only on the set. */
  include: Iterable<string>;
  options?: QueryKeyOptions;
}

const SEP = '\u0000';

export function queryKey(parts: QueryKeyParts): string {
  return keyOf(parts.version, querySalt(parts), parts.vectors);
}

/** The key from its parts, the salt already made (`querySalt`). */
export function keyOf(version: number, salt: string, vectors: Float32Array): string {
  const bytes = Buffer.from(vectors.buffer, vectors.byteOffset, vectors.byteLength).toString('latin1');
  return `${version}${SEP}${salt}${SEP}${bytes}`;
}

/**
 * Everything in a key but the version and the vectors: what tells apart two queries with the same
 * vectors (the doorkeeper's and the print index's salt).
 */
export function querySalt(parts: Omit<QueryKeyParts, 'version' | 'vectors'>): string {
  const include = [...parts.include].sort().join(',');
  let options = '';
  if (parts.options) {
    for (const name of Object.keys(parts.options).sort()) {
      const value = parts.options[name];
      // JSON keeps "1" (string) apart from 1 (number) and true.
      if (value !== undefined) options += `${name}=${JSON.stringify(value)};`;
    }
  }
  // Collection names cannot hold NUL, so the fields cannot run into each other.
  return `${parts.collection}${SEP}${parts.k}${SEP}${include}${SEP}${options}`;
}
