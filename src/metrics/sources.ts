/**
 * What the metrics read from the rest of the engine, as callbacks the engine passes in, so
 * this folder imports none of those modules (nor the cache, which may be absent).
 */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Misses whose answer was not kept because the query was new (admission `repeat`). */
  notAdmitted?: number;
  bytes: number;
  entries: number;
}

export interface MetricsSources {
  writeBehind?: () => { ops: number; records: number; oldestAgeMs: number; state: string };
  index?: () => { sharedBytes: number; usedBytes: number };
  pool?: () => { queueSize: number; utilization: number };
  /** undefined while there is no cache. */
  cache?: () => CacheStats | undefined;
}
