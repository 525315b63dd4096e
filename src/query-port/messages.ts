/**
 * What a query worker needs to serve the query port (part of its workerData), and the engine's
 * state word it reads on every request.
 */
import type { CacheAdmission } from '../cache/query-cache.js';

/** Values of the shared status word (`QueryPortInit.status`), written by the main thread. */
export const EngineStatus = { RECOVERING: 0, OK: 1, STOPPING: 2 } as const;
/** Int32 words of `QueryPortInit.status`. */
export const StatusWord = { STATUS: 0, MAIN_PORT: 1 } as const;
export const STATUS_WORDS = 2;

export interface QueryPortInit {
  host: string;
  /** An explicit port: every worker binds the same one (SO_REUSEPORT). */
  port: number;
  maxBodyBytes: number;
  maxBatch: number;
  maxK: number;
  /** Bytes of this worker's own answer cache (0: none). */
  cacheBytes: number;
  cacheAdmission: CacheAdmission;
  /** Byte offset of the shared catalog in the arena (catalog.ts). */
  catalogOffset: number;
  /** StatusWord: the engine's EngineStatus, and the main port (named in the answer to a route the query port does not serve). */
  status: SharedArrayBuffer;
  /** Name of the relay's channels (relay.ts). */
  relay: string;
}
