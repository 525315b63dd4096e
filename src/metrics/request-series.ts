/**
 * Everything recorded for one (operation, transport): the sliding latency histogram, the
 * per-slot counts the SLA reads, and the Prometheus series per status code. `record` is the
 * hot path: one HDR record, a few typed-array increments, one small Map lookup.
 *
 * Count columns: 0 requests, 1 server errors (5xx), 2.. requests (not 5xx) slower than
 * each threshold. 5xx answers are counted but kept out of the latency distribution.
 */
import type { HistogramPool } from './hdr.js';
import { toMicros } from './hdr.js';
import type { FastHistogram, HistogramSeries } from './prom-histogram.js';
import { SlidingCounts } from './sliding-counts.js';
import { SlidingHistogram } from './sliding-histogram.js';

export const REQUESTS = 0;
export const ERRORS = 1;
export const OVER = 2;

export type RequestLabel = 'op' | 'transport' | 'status';

export class RequestSeries {
  readonly latency: SlidingHistogram;
  readonly counts: SlidingCounts;
  private readonly byStatus = new Map<number, HistogramSeries>();

  constructor(
    readonly op: string,
    readonly transport: string,
    pool: HistogramPool,
    /** Latency thresholds (µs) whose exceedances are counted, e.g. the query SLA targets. */
    readonly thresholdsUs: readonly number[],
    private readonly prom: FastHistogram<RequestLabel>,
  ) {
    this.latency = new SlidingHistogram(pool);
    this.counts = new SlidingCounts(OVER + thresholdsUs.length);
  }

  record(status: number, seconds: number): void {
    const rows = this.counts.rows;
    const at = this.counts.cursor;
    rows[at + REQUESTS]!++;
    if (status >= 500) {
      rows[at + ERRORS]!++;
    } else {
      const us = toMicros(seconds);
      this.latency.record(us);
      const t = this.thresholdsUs;
      for (let i = 0; i < t.length; i++) if (us > t[i]!) rows[at + OVER + i]!++;
    }
    let s = this.byStatus.get(status);
    if (s === undefined) {
      s = this.prom.series(this.op, this.transport, String(status));
      this.byStatus.set(status, s);
    }
    s.observe(seconds);
  }

  rotate(minuteEnds: boolean): void {
    this.latency.rotate(minuteEnds);
    this.counts.rotate();
  }
}
