/**
 * The shape of `GET /v1/sla` and of the snapshots pushed to WebSocket subscribers. Other
 * tools read it (the load tests): add fields, do not rename or remove them.
 */
import type { PercentilesMs } from './hdr.js';
import type { ObjectiveReport, SlaStatus } from './sla.js';
import type { LatencyWindow } from './windows.js';

/** Latency of one operation over one window, all transports, milliseconds. */
export interface OpLatency extends PercentilesMs {
  /** Requests answered, 5xx included (the percentiles leave 5xx answers out). */
  count: number;
  /** Answered with a server error (5xx). */
  errors: number;
}

export type StageName = 'pool_queue_wait' | 'pool_run' | 'wal_sync';

export interface WriteBehindState {
  ops: number;
  records: number;
  oldestAgeMs: number;
  state: string;
}

export interface SlaReport {
  status: SlaStatus;
  objectives: ObjectiveReport[];
  latency: Record<LatencyWindow, Record<string, OpLatency>>;
  writeBehind: WriteBehindState;
  cache?: { hitRatio: number; hits: number; misses: number };
  /** ISO time of the evaluation. */
  generatedAt: string;
  /** Parts of a request: query queue wait and worker run time, WAL group commits (ms). */
  stages: Record<LatencyWindow, Partial<Record<StageName, PercentilesMs>>>;
  /** Requests per second by operation over the last 10–20 s. */
  throughput: Record<string, number>;
  process: { rssBytes: number; eventLoopDelayP99Ms: number; indexSharedBytes: number; indexUsedBytes: number };
}

/** What a WebSocket subscriber of topic "sla" receives, as `{topic: "sla", event, data}`. */
export type SlaTopicEvent = 'history' | 'snapshot' | 'alert';
