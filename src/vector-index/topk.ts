/**
 * Bounded max-heap keeping the k smallest (distance, ref) pairs (a ref is any integer below 2^53). Preallocated and reused
 * across queries on one thread: no allocation per candidate.
 */
export class TopK {
  private dist: Float64Array;
  private slot: Float64Array;
  private size = 0;
  private k = 0;

  constructor(capacity = 16) {
    this.dist = new Float64Array(capacity);
    this.slot = new Float64Array(capacity);
  }

  reset(k: number): void {
    if (k > this.dist.length) {
      this.dist = new Float64Array(k);
      this.slot = new Float64Array(k);
    }
    this.k = k;
    this.size = 0;
  }

  /** Worst distance kept, or +Infinity while fewer than k are held. */
  get threshold(): number {
    return this.size < this.k ? Infinity : this.dist[0]!;
  }

  push(d: number, s: number): void {
    const { dist, slot } = this;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (dist[p]! >= d) break;
        dist[i] = dist[p]!;
        slot[i] = slot[p]!;
        i = p;
      }
      dist[i] = d;
      slot[i] = s;
      return;
    }
    if (d >= dist[0]!) return;
    // Replace the root and sift down.
    const n = this.size;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && dist[r]! > dist[l]! ? r : l;
      if (dist[c]! <= d) break;
      dist[i] = dist[c]!;
      slot[i] = slot[c]!;
      i = c;
    }
    dist[i] = d;
    slot[i] = s;
  }

  /** Writes the kept pairs in ascending distance into out arrays at `at`, pads with slot -1. */
  drainSorted(outSlots: Float64Array | Int32Array, outDist: Float32Array, at: number): void {
    const n = this.size;
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => this.dist[a]! - this.dist[b]! || this.slot[a]! - this.slot[b]!);
    for (let i = 0; i < this.k; i++) {
      if (i < n) {
        outSlots[at + i] = this.slot[order[i]!]!;
        outDist[at + i] = this.dist[order[i]!]!;
      } else {
        outSlots[at + i] = -1;
        outDist[at + i] = NaN;
      }
    }
    this.size = 0;
  }
}
