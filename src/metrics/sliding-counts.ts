/**
 * Event counts per 10-s slot over the last hour, for burn rates and error ratios: a ring of
 * `HOUR_SLOTS` rows of `width` numbers (what each column means is the owner's business).
 * Incrementing is one typed-array write; a window sum reads at most 360 rows.
 */
import { HOUR_SLOTS } from './windows.js';

export class SlidingCounts {
  readonly rows: Float64Array;
  /** Offset of the current slot's first column in `rows`. */
  cursor = 0;

  constructor(readonly width: number) {
    this.rows = new Float64Array(HOUR_SLOTS * width);
  }

  add(column: number, n = 1): void {
    this.rows[this.cursor + column]! += n;
  }

  /** Starts a new (empty) current slot; the slot an hour old is forgotten. */
  rotate(): void {
    this.cursor = (this.cursor + this.width) % this.rows.length;
    this.rows.fill(0, this.cursor, this.cursor + this.width);
  }

  /** Sums each column over the last `slots` slots, the current one included, into `out`. */
  sum(slots: number, out: Float64Array = new Float64Array(this.width)): Float64Array {
    out.fill(0);
    const n = Math.min(slots, HOUR_SLOTS);
    let at = this.cursor;
    for (let s = 0; s < n; s++) {
      for (let c = 0; c < this.width; c++) out[c]! += this.rows[at + c]!;
      at = at === 0 ? this.rows.length - this.width : at - this.width;
    }
    return out;
  }
}
