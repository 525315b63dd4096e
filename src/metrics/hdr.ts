/**
 * HDR histograms as the metrics use them: integer microseconds from 0 to 60 s, two
 * significant digits (every value within 1 %), plain 32-bit counts — recording is a few
 * array operations and one histogram is 11 KiB. A pool recycles the histograms that slide
 * out of a window, so steady traffic allocates nothing.
 */
import { build, type Histogram } from 'hdr-histogram-js';

/** Longest latency a histogram keeps apart; longer values are recorded as this. */
export const MAX_MICROS = 60_000_000;

export function newHistogram(): Histogram {
  return build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_MICROS,
    numberOfSignificantValueDigits: 2,
    bitBucketSize: 32,
    autoResize: false,
    useWebAssembly: false,
  });
}

/** Seconds → whole microseconds, clamped to what a histogram tracks. */
export function toMicros(seconds: number): number {
  const us = Math.round(seconds * 1e6);
  return us > MAX_MICROS ? MAX_MICROS : us > 0 ? us : 0;
}

export class HistogramPool {
  private readonly free: Histogram[] = [];

  constructor(private readonly maxFree = 64) {}

  take(): Histogram {
    return this.free.pop() ?? newHistogram();
  }

  give(h: Histogram): void {
    if (this.free.length >= this.maxFree) return;
    h.reset();
    this.free.push(h);
  }
}

/** Percentiles of a histogram in milliseconds, to the microsecond. */
export interface PercentilesMs {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
}

const ms = (us: number): number => Math.round(us) / 1000;

export function percentilesMs(h: Histogram): PercentilesMs {
  if (h.totalCount === 0) return { count: 0, p50: 0, p95: 0, p99: 0, p999: 0 };
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
  };
}
