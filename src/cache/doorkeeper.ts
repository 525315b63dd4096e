/**
 * Admission filter of the hot-query cache (the "doorkeeper" of TinyLFU): remembers fingerprints
 * of recently missed queries so that only a query seen before is admitted into the cache.
 * Traffic of distinct queries then costs one table write per query instead of an LRU insert,
 * a retained key and an eviction; a query that repeats is cached on its second miss.
 *
 * A direct-mapped table of 32-bit fingerprints: newer queries overwrite older ones in their
 * slot, so it forgets by itself and never needs a reset. A collision only admits a query one
 * miss early; it can never serve a wrong answer (the cache's keys hold the vectors verbatim).
 */

export class Doorkeeper {
  private readonly table: Uint32Array;
  private readonly mask: number;

  /** `slots` is rounded up to a power of two (4 bytes each). */
  constructor(slots = 1 << 16) {
    let size = 1;
    while (size < slots) size *= 2;
    this.table = new Uint32Array(size);
    this.mask = size - 1;
  }

  /**
   * Records the query by its fingerprint (`fingerprint(vectors, salt)`, where the salt folds in
   * everything else that distinguishes queries) and tells whether it was recorded before (and is
   * still remembered).
   */
  seenBefore(print: number): boolean {
    const h = print || 1; // 0 marks an empty slot
    const slot = (h ^ (h >>> 16)) & this.mask;
    if (this.table[slot] === h) return true;
    this.table[slot] = h;
    return false;
  }
}

/** 32-bit FNV-1a-style hash of the vectors' bit patterns and the salt's characters. */
export function fingerprint(vectors: Float32Array, salt: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193);
  const words = new Int32Array(vectors.buffer, vectors.byteOffset, vectors.length);
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}
