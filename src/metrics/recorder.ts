/**
 * Everything recorded, and the clock that slides it: one RequestSeries per (operation,
 * transport), a Stage per part of a request (pool queue wait, pool run, WAL sync), and the
 * write-behind lag samples. `advance()` closes the 10-s slots that have ended; the hot-path
 * methods only write into the current slot.
 */
import { HistogramPool, toMicros } from './hdr.js';
import type { PromMetrics } from './prometheus.js';
import type { HistogramSeries } from './prom-histogram.js';
import type { StageName } from './report.js';
import { ERRORS, REQUESTS, RequestSeries } from './request-series.js';
import { SlidingCounts } from './sliding-counts.js';
import { SlidingHistogram } from './sliding-histogram.js';
import { HOUR_SLOTS, SLOT_MS, SLOTS_PER_MINUTE } from './windows.js';

export type Transport = 'http' | 'ws';

/** Columns of the lag counts. */
export const LAG_SAMPLES = 0;
export const LAG_BAD = 1;
/** Indexes of the query latency thresholds (after `OVER` in the request counts). */
export const QUERY_P95 = 0;
export const QUERY_P99 = 1;

export class Stage {
  readonly latency: SlidingHistogram;

  constructor(
    pool: HistogramPool,
    readonly prom: HistogramSeries,
  ) {
    this.latency = new SlidingHistogram(pool);
  }

  record(seconds: number): void {
    this.latency.record(toMicros(seconds));
    this.prom.observe(seconds);
  }
}

export class Recorder {
  readonly hist = new HistogramPool();
  /** op → [http, ws] */
  readonly requests = new Map<string, [RequestSeries, RequestSeries]>();
  readonly stages: Record<StageName, Stage>;
  readonly lag = new SlidingCounts(2);
  private readonly createdAt: number;
  private slotStarted: number;
  private rotations = 0;

  constructor(
    private readonly prom: PromMetrics,
    /** [p95, p99] query latency targets in µs: queries over them are counted per slot. */
    private readonly queryThresholdsUs: readonly number[],
    private readonly now: () => number,
  ) {
    this.createdAt = this.slotStarted = now();
    this.stages = {
      pool_queue_wait: new Stage(this.hist, prom.poolWait),
      pool_run: new Stage(this.hist, prom.poolRun),
      wal_sync: new Stage(this.hist, prom.walSync),
    };
  }

  request(op: string, transport: Transport, status: number, seconds: number): void {
    const pair = this.requests.get(op) ?? this.addOp(op);
    pair[transport === 'ws' ? 1 : 0].record(status, seconds);
  }

  sampleLag(oldestAgeMs: number, targetMs: number): void {
    this.lag.add(LAG_SAMPLES);
    if (oldestAgeMs > targetMs) this.lag.add(LAG_BAD);
  }

  /** Closes every 10-s slot that has ended since the last call; returns how many. */
  advance(): number {
    const now = this.now();
    let due = Math.floor((now - this.slotStarted) / SLOT_MS);
    if (due <= 0) return 0;
    if (due > HOUR_SLOTS) {
      // Asleep for over an hour: every window is empty anyway.
      this.slotStarted = now - ((now - this.slotStarted) % SLOT_MS) - HOUR_SLOTS * SLOT_MS;
      due = HOUR_SLOTS;
    }
    for (let i = 0; i < due; i++) {
      const minuteEnds = ++this.rotations % SLOTS_PER_MINUTE === 0;
      for (const pair of this.requests.values()) for (const s of pair) s.rotate(minuteEnds);
      for (const stage of Object.values(this.stages)) stage.latency.rotate(minuteEnds);
      this.lag.rotate();
      this.slotStarted += SLOT_MS;
    }
    return due;
  }

  /** Both transports' counts of one operation over the last `slots` slots. */
  sumPair(pair: readonly RequestSeries[], slots: number): Float64Array {
    const out = pair[0]!.counts.sum(slots);
    const tmp = pair[1]!.counts.sum(slots);
    for (let i = 0; i < out.length; i++) out[i]! += tmp[i]!;
    return out;
  }

  /** Requests by operation and server errors, per second, over the current and the previous slot. */
  rates(): { byOp: Record<string, number>; errors: number } {
    const now = this.now();
    const seconds = Math.max(1000, Math.min(now - this.createdAt, now - this.slotStarted + SLOT_MS)) / 1000;
    const byOp: Record<string, number> = {};
    let errors = 0;
    for (const [op, pair] of this.requests) {
      const sums = this.sumPair(pair, 2);
      if (sums[REQUESTS]! > 0) byOp[op] = Math.round((sums[REQUESTS]! / seconds) * 10) / 10;
      errors += sums[ERRORS]!;
    }
    return { byOp, errors: Math.round((errors / seconds) * 10) / 10 };
  }

  private addOp(op: string): [RequestSeries, RequestSeries] {
    const thresholds = op === 'query' ? this.queryThresholdsUs : [];
    const pair: [RequestSeries, RequestSeries] = [
      new RequestSeries(op, 'http', this.hist, thresholds, this.prom.requests),
      new RequestSeries(op, 'ws', this.hist, thresholds, this.prom.requests),
    ];
    this.requests.set(op, pair);
    return pair;
  }
}
