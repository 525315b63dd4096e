/**
 * A latency distribution over sliding windows of 1 min, 5 min and 1 h, built from HDR
 * histograms in two tiers so that an hour does not cost 360 histograms:
 *
 *   current ─rotate()→ tens (last 29 closed 10-s slots)      1m = current + 5 tens
 *                  └──→ minute (closed slots of this minute) 5m = current + 29 tens
 *   minute ─every 6th rotate()→ minutes (last 59 minutes)    1h = current + minute + 59 minutes
 *
 * The merges of all closed tens and of all closed minutes are cached until the next
 * rotation, so a read costs at most three histogram additions. Slots with no traffic hold no
 * histogram at all.
 */
import type { Histogram } from 'hdr-histogram-js';
import type { HistogramPool } from './hdr.js';
import type { LatencyWindow } from './windows.js';

const TENS = 29;
const MINUTES = 59;

export class SlidingHistogram {
  private current: Histogram | null = null;
  private readonly tens: (Histogram | null)[] = [];
  private minute: Histogram | null = null;
  private readonly minutes: (Histogram | null)[] = [];
  private tensMerged: Histogram | null = null;
  private tensDirty = false;
  private minutesMerged: Histogram | null = null;
  private minutesDirty = false;

  constructor(private readonly pool: HistogramPool) {}

  /** Records one value in microseconds (already clamped, see `toMicros`). */
  record(us: number): void {
    (this.current ??= this.pool.take()).recordValue(us);
  }

  /** Closes the current 10-s slot; `minuteEnds` also closes the minute it completes. */
  rotate(minuteEnds: boolean): void {
    const closed = this.current;
    this.current = null;
    if (closed) (this.minute ??= this.pool.take()).add(closed);
    this.tens.push(closed);
    if (this.tens.length > TENS) this.drop(this.tens.shift()!);
    this.tensDirty = true;
    if (minuteEnds) {
      this.minutes.push(this.minute);
      this.minute = null;
      if (this.minutes.length > MINUTES) this.drop(this.minutes.shift()!);
      this.minutesDirty = true;
    }
  }

  /** Adds the window's distribution into `into` (a histogram from the same pool). */
  addTo(window: LatencyWindow, into: Histogram): void {
    if (this.current) into.add(this.current);
    if (window === '1m') {
      for (let i = Math.max(0, this.tens.length - 5); i < this.tens.length; i++) {
        const h = this.tens[i];
        if (h) into.add(h);
      }
    } else if (window === '5m') {
      const merged = this.mergedTens();
      if (merged) into.add(merged);
    } else {
      if (this.minute) into.add(this.minute);
      const merged = this.mergedMinutes();
      if (merged) into.add(merged);
    }
  }

  /** True when no slot holds a value (the series may be forgotten). */
  get empty(): boolean {
    return this.current === null && this.minute === null && this.tens.every((h) => h === null) && this.minutes.every((h) => h === null);
  }

  private mergedTens(): Histogram | null {
    if (this.tensDirty) {
      this.tensMerged = this.merge(this.tens, this.tensMerged);
      this.tensDirty = false;
    }
    return this.tensMerged;
  }

  private mergedMinutes(): Histogram | null {
    if (this.minutesDirty) {
      this.minutesMerged = this.merge(this.minutes, this.minutesMerged);
      this.minutesDirty = false;
    }
    return this.minutesMerged;
  }

  private merge(list: (Histogram | null)[], previous: Histogram | null): Histogram | null {
    let out = previous;
    out?.reset();
    for (const h of list) if (h) (out ??= this.pool.take()).add(h);
    if (out && out.totalCount === 0) {
      this.pool.give(out);
      return null;
    }
    return out;
  }

  private drop(h: Histogram | null): void {
    if (h) this.pool.give(h);
  }
}
