/**
 * Where the records of a merged segment come from: record j was `sources[source[j]]`'s slot
 * `from[j]` and becomes the merged segment's slot `to[j]`. Typed arrays, not an object per
 * record: a merge moves tens of thousands of records, and the lists are built, read by the
 * builder's offsets and walked by `CollectionStore.replace` on the main thread.
 */
import type { Segment } from './segment.js';

export class Moves {
  readonly source: Uint16Array;
  readonly from: Int32Array;
  readonly to: Int32Array;
  private n = 0;

  constructor(
    readonly sources: readonly Segment[],
    capacity: number,
  ) {
    if (sources.length > 0xffff) throw new Error(`a merge takes at most 65,535 segments, got ${sources.length}`);
    this.source = new Uint16Array(capacity);
    this.from = new Int32Array(capacity);
    this.to = new Int32Array(capacity);
  }

  get length(): number {
    return this.n;
  }

  /** Record `from` of `sources[source]` goes to slot `to`. */
  add(source: number, from: number, to: number): void {
    const j = this.n++;
    this.source[j] = source;
    this.from[j] = from;
    this.to[j] = to;
  }

  /** The j-th moved record's source segment. */
  segment(j: number): Segment {
    return this.sources[this.source[j]!]!;
  }

  /** Byte offsets of the moved records' vectors in their sources (what the graph builder reads). */
  vectorOffsets(): Float64Array {
    const out = new Float64Array(this.n);
    for (let j = 0; j < this.n; j++) out[j] = this.segment(j).vectorOffset(this.from[j]!);
    return out;
  }

  /** Byte offsets of the moved records' inverse norms in their sources (a compaction copies them). */
  invNormOffsets(): Float64Array {
    const out = new Float64Array(this.n);
    for (let j = 0; j < this.n; j++) out[j] = this.segment(j).invNormOffset(this.from[j]!);
    return out;
  }

  /** The merged segment's slot of each moved record (the builder's keys). */
  keys(): Float64Array {
    return Float64Array.from(this.to.subarray(0, this.n));
  }
}
