/**
 * The hot-query cache: identical queries against an unchanged collection are answered on the
 * main thread without touching the worker pool. Bounded in bytes (LRU), not in entries.
 *
 * Invalidation is exact. Every collection has a write version; `commit()` calls
 * `invalidate()` for every write (upsert, delete, create, drop) before applying it, which moves
 * the version to a value the collection never had and drops the collection's entries at once.
 * A query captures the version when it looks up and fills the cache only if that version is
 * still current when its answer is ready, so an answer computed across a write is never kept.
 *
 * Admission (`admission: 'repeat'`, the default): a query's answer is kept only when the query
 * was seen before (doorkeeper.ts), so a stream of distinct queries does not churn the LRU.
 * `'first'` keeps every answer.
 *
 * Misses are cheap: a lookup first takes a 32-bit fingerprint of the query (its vectors and
 * salt) and builds the key — a string holding the vectors' bytes, which the LRU's map then hashes
 * — only when some kept answer has that fingerprint. For a 784-d query that skips ~12 µs of the
 * ~15 µs a miss took (CPU profile under distinct-query load). Fingerprints only rule keys out;
 * a hit is always the full key's.
 */
import { LRUCache } from 'lru-cache';
import type { QueryResult } from '../service/query.js';
import { Doorkeeper, fingerprint } from './doorkeeper.js';
import { keyOf, querySalt, type QueryKeyOptions } from './key.js';
import { entryBytes, freezeResult, shareResult } from './result.js';

export interface QueryCacheOptions {
  /** Upper bound of the cached answers and their keys (estimated heap bytes); must be > 0. */
  maxBytes: number;
  /** Largest single entry; bigger answers are not kept. Default: a quarter of `maxBytes`. */
  maxEntryBytes?: number;
  /** Keep an answer on a query's first miss (`first`) or only once it was seen before (`repeat`, default). */
  admission?: CacheAdmission;
  /** The query fingerprint (tests give a colliding one: a collision must never serve a wrong answer). */
  fingerprint?: (vectors: Float32Array, salt: string) => number;
}

export type CacheAdmission = 'first' | 'repeat';

export interface QueryCacheStats {
  /** Queries answered from the cache. */
  hits: number;
  /** Queries that went to the pool (including ones too large to cache). */
  misses: number;
  /** Misses whose answer was not kept because the query had not been seen before (admission `repeat`). */
  notAdmitted: number;
  /** Estimated bytes held now. */
  bytes: number;
  /** Answers held now. */
  entries: number;
}

export interface QueryLookup {
  collection: string;
  vectors: Float32Array;
  k: number;
  include: Iterable<string>;
  options?: QueryKeyOptions;
}

/** A lookup's outcome: the cached answer, or `fill` to call with the freshly computed one. */
export interface CacheLookup {
  hit?: QueryResult;
  /** Keeps the answer if the collection was not written since the lookup; returns what to give the caller. */
  fill(result: QueryResult): QueryResult;
}

interface Entry {
  collection: string;
  result: QueryResult;
  bytes: number;
  print: number;
}

const passThrough = (result: QueryResult): QueryResult => result;

export class QueryCache {
  private readonly lru: LRUCache<string, Entry>;
  private readonly maxEntryBytes: number;
  private readonly doorkeeper: Doorkeeper | undefined;
  /**
   * Write version per collection name. Versions come from one clock that only moves forward,
   * so a dropped and re-created collection never returns to a version it had before. Entries
   * are kept after a drop for that reason (one number per collection name ever written).
   */
  private readonly versions = new Map<string, number>();
  private clock = 0;
  /** Keys held per collection, so a write can drop them eagerly. */
  private readonly keysOf = new Map<string, Set<string>>();
  /** Kept answers per fingerprint: a lookup whose fingerprint is absent is a miss without a key. */
  private readonly prints = new Map<number, number>();
  private readonly fingerprint: (vectors: Float32Array, salt: string) => number;
  private hits = 0;
  private misses = 0;
  private notAdmitted = 0;

  constructor(options: QueryCacheOptions) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer, got ${options.maxBytes}`);
    this.maxEntryBytes = options.maxEntryBytes ?? Math.max(1, Math.floor(options.maxBytes / 4));
    if (!Number.isSafeInteger(this.maxEntryBytes) || this.maxEntryBytes < 1 || this.maxEntryBytes > options.maxBytes) {
      throw new RangeError(`maxEntryBytes must be a positive integer no larger than maxBytes (${options.maxBytes}), got ${options.maxEntryBytes}`);
    }
    const admission = options.admission ?? 'repeat';
    if (admission !== 'first' && admission !== 'repeat') throw new RangeError(`admission must be 'first' or 'repeat', got ${String(admission)}`);
    this.doorkeeper = admission === 'repeat' ? new Doorkeeper() : undefined;
    this.fingerprint = options.fingerprint ?? fingerprint;
    this.lru = new LRUCache<string, Entry>({
      maxSize: options.maxBytes,
      maxEntrySize: this.maxEntryBytes,
      sizeCalculation: (entry) => entry.bytes,
      dispose: (entry, key) => {
        const held = this.prints.get(entry.print)!;
        if (held === 1) this.prints.delete(entry.print);
        else this.prints.set(entry.print, held - 1);
        const keys = this.keysOf.get(entry.collection);
        keys?.delete(key);
        if (keys?.size === 0) this.keysOf.delete(entry.collection);
      },
    });
  }

  /** The collection's current write version. */
  version(collection: string): number {
    return this.versions.get(collection) ?? 0;
  }

  /** Looks a query up; call on the main thread before the query is dispatched. */
  lookup(q: QueryLookup): CacheLookup {
    // Keys hold the vectors verbatim: a request whose vectors alone exceed an entry is not cacheable.
    if (q.vectors.byteLength >= this.maxEntryBytes) {
      this.misses++;
      return { fill: passThrough };
    }
    const version = this.version(q.collection);
    const salt = querySalt({ collection: q.collection, k: q.k, include: q.include, ...(q.options ? { options: q.options } : {}) });
    const print = this.fingerprint(q.vectors, salt);
    // Every kept answer is of its collection's current version (a write drops the others), so
    // the fingerprint need not hold the version; the key does.
    const key = this.prints.has(print) ? keyOf(version, salt, q.vectors) : undefined;
    const entry = key === undefined ? undefined : this.lru.get(key);
    if (entry) {
      this.hits++;
      return { hit: shareResult(entry.result), fill: passThrough };
    }
    this.misses++;
    // A query seen before a write counts as seen after it (the print has no version).
    if (this.doorkeeper && !this.doorkeeper.seenBefore(print)) {
      this.notAdmitted++;
      return { fill: passThrough };
    }
    // Built now: the vectors are handed over to a worker before the answer comes back.
    const admittedKey = key ?? keyOf(version, salt, q.vectors);
    return { fill: (result) => this.fill(q.collection, version, admittedKey, print, result) };
  }

  private fill(collection: string, version: number, key: string, print: number, result: QueryResult): QueryResult {
    if (this.version(collection) !== version) return result; // written meanwhile: the answer may predate the write
    const bytes = entryBytes(key, result);
    if (bytes > this.maxEntryBytes) return result;
    const frozen = freezeResult(result);
    // Counted before the set: replacing a key disposes of the old entry, which uncounts its print.
    this.prints.set(print, (this.prints.get(print) ?? 0) + 1);
    this.lru.set(key, { collection, result: frozen, bytes, print });
    let keys = this.keysOf.get(collection);
    if (!keys) this.keysOf.set(collection, (keys = new Set()));
    keys.add(key);
    return shareResult(frozen);
  }

  /** A write to `collection` is about to be applied: no answer computed before it may be served again. */
  invalidate(collection: string): void {
    this.versions.set(collection, ++this.clock);
    const keys = this.keysOf.get(collection);
    if (!keys) return;
    this.keysOf.delete(collection);
    for (const key of keys) this.lru.delete(key);
  }

  stats(): QueryCacheStats {
    return { hits: this.hits, misses: this.misses, notAdmitted: this.notAdmitted, bytes: this.lru.calculatedSize, entries: this.lru.size };
  }

  /** Drops every answer (versions and counters stay). */
  clear(): void {
    this.lru.clear();
    this.keysOf.clear();
    this.prints.clear();
  }
}

/** The engine's cache for its settings: none when `cacheBytes` is 0. */
/** Two caches' counters added up (either may be absent). */
export function addCacheStats(a: QueryCacheStats | undefined, b: QueryCacheStats | undefined): QueryCacheStats | undefined {
  if (!a || !b) return a ?? b;
  return { hits: a.hits + b.hits, misses: a.misses + b.misses, notAdmitted: a.notAdmitted + b.notAdmitted, bytes: a.bytes + b.bytes, entries: a.entries + b.entries };
}

export const queryCacheFor = (cacheBytes: number, admission: CacheAdmission = 'repeat'): QueryCache | undefined =>
  cacheBytes > 0 ? new QueryCache({ maxBytes: cacheBytes, admission }) : undefined;
