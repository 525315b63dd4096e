/**
 * Latency bookkeeping of one load run: an HDR histogram (microsecond resolution) per operation
 * of the latency measured from each request's *intended* send time (what a user of an
 * open-model system waits, coordinated omission included) and one of the service time measured
 * from the moment the request actually left (what the server and the wire took), plus outcome
 * counts and a one-second timeline for the progress line and the chart.
 */
import { build, type Histogram } from 'hdr-histogram-js';

export type OpName = 'query' | 'upsert';
export const OP_NAMES: readonly OpName[] = ['query', 'upsert'];

/** An answered request with a 2xx status (or a WebSocket `result`), an answered failure, or none. */
export type Outcome = 'ok' | 'non2xx' | 'error';

const MAX_US = 3_600_000_000; // one hour; longer values are clamped

function histogram(): Histogram {
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 3 });
}

const toUs = (ms: number): number => Math.min(MAX_US, Math.max(1, Math.round(ms * 1000)));

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface OpStats {
  /** Requests that finished: answered (any status) or failed without an answer. */
  count: number;
  ok: number;
  /** Answered with a non-2xx status, or a WebSocket `{error}`. */
  non2xx: number;
  /** No answer: connection error, timeout, or never sent before the drain deadline. */
  errors: number;
  ratePerSecond: number;
  /** From the intended send time (coordinated-omission corrected), answered requests, ms. */
  latencyMs: Percentiles;
  /** From the actual send time, answered requests, ms. */
  serviceMs: Percentiles;
  /** The latency curve for the chart: `[percentile, ms]`. */
  spectrum: [number, number][];
}

export interface TimelinePoint {
  /** Seconds since the run started (end of the interval). */
  t: number;
  /** Requests finished in this interval. */
  count: number;
  /** `count` per second of the interval. */
  rate: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

const SPECTRUM = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 100];

function percentiles(h: Histogram): Percentiles {
  if (h.totalCount === 0) return { p50: 0, p95: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const ms = (p: number): number => h.getValueAtPercentile(p) / 1000;
  return { p50: ms(50), p95: ms(95), p99: ms(99), p999: ms(99.9), max: h.maxValue / 1000, mean: h.mean / 1000 };
}

class OpRecorder {
  readonly latency = histogram();
  readonly service = histogram();
  ok = 0;
  non2xx = 0;
  errors = 0;
}

export class LatencyRecorder {
  private readonly ops = new Map<OpName, OpRecorder>();
  private readonly all = new OpRecorder();
  private readonly interval = histogram();
  private intervalErrors = 0;
  private lastTickMs: number;
  private readonly sendLag = histogram();
  readonly timeline: TimelinePoint[] = [];
  /** Requests handed to the transport (for the progress line). */
  sent = 0;

  constructor(readonly startMs: number) {
    this.lastTickMs = startMs;
  }

  private op(op: OpName): OpRecorder {
    let r = this.ops.get(op);
    if (!r) this.ops.set(op, (r = new OpRecorder()));
    return r;
  }

  /** A request left at `sentMs`, `sentMs - intendedMs` after it should have (the generator's own lag). */
  sentAt(intendedMs: number, sentMs: number): void {
    this.sent++;
    this.sendLag.recordValue(toUs(sentMs - intendedMs));
  }

  /** An answer arrived at `doneMs`. */
  answered(op: OpName, intendedMs: number, sentMs: number, doneMs: number, outcome: Exclude<Outcome, 'error'>): void {
    const latency = toUs(doneMs - intendedMs);
    const service = toUs(doneMs - sentMs);
    for (const r of [this.op(op), this.all]) {
      r.latency.recordValue(latency);
      r.service.recordValue(service);
      if (outcome === 'ok') r.ok++;
      else r.non2xx++;
    }
    this.interval.recordValue(latency);
  }

  /** A request that got no answer (or was never sent). */
  failed(op: OpName, count = 1): void {
    this.op(op).errors += count;
    this.all.errors += count;
    this.intervalErrors += count;
  }

  get finished(): number {
    return this.all.ok + this.all.non2xx + this.all.errors;
  }

  get failures(): number {
    return this.all.non2xx + this.all.errors;
  }

  /** Latency so far over every operation, ms. */
  overall(): Percentiles {
    return percentiles(this.all.latency);
  }

  /** The operations seen so far. */
  opNames(): OpName[] {
    return OP_NAMES.filter((op) => this.ops.has(op));
  }

  /** Seconds since the last tick. */
  sinceTick(nowMs: number): number {
    return (nowMs - this.lastTickMs) / 1000;
  }

  /** Closes the current interval (one second while running; the last one may be shorter). */
  tick(nowMs: number): TimelinePoint {
    const p = percentiles(this.interval);
    const count = this.interval.totalCount + this.intervalErrors;
    const seconds = Math.max(1e-3, (nowMs - this.lastTickMs) / 1000);
    const point = { t: (nowMs - this.startMs) / 1000, count, rate: count / seconds, errors: this.intervalErrors, p50: p.p50, p99: p.p99, max: p.max };
    this.lastTickMs = nowMs;
    this.timeline.push(point);
    this.interval.reset();
    this.intervalErrors = 0;
    return point;
  }

  /** Totals of one operation, or of all of them. */
  stats(op: OpName | 'all', seconds: number): OpStats | undefined {
    const r = op === 'all' ? this.all : this.ops.get(op);
    if (!r) return undefined;
    const count = r.ok + r.non2xx + r.errors;
    return {
      count,
      ok: r.ok,
      non2xx: r.non2xx,
      errors: r.errors,
      ratePerSecond: seconds > 0 ? count / seconds : 0,
      latencyMs: percentiles(r.latency),
      serviceMs: percentiles(r.service),
      spectrum: r.latency.totalCount === 0 ? [] : SPECTRUM.map((p) => [p, r.latency.getValueAtPercentile(p) / 1000]),
    };
  }

  /** How late the generator sent requests against their intended times, ms. */
  sendLagMs(): Percentiles {
    return percentiles(this.sendLag);
  }
}
