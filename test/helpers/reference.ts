/** Brute-force k-NN in float64 over float32 inputs: the reference the engine must match. */
export type Metric = 'l2' | 'cosine' | 'ip';

export function distance(metric: Metric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let l2 = 0;
  for (let i = 0; i < a.length; i++) {
    const x = Math.fround(a[i]!);
    const y = Math.fround(b[i]!);
    dot += x * y;
    na += x * x;
    nb += y * y;
    l2 += (x - y) * (x - y);
  }
  if (metric === 'l2') return l2;
  if (metric === 'ip') return 1 - dot;
  return na === 0 || nb === 0 ? 1 : 1 - dot / Math.sqrt(na * nb);
}

export function bruteForce(metric: Metric, data: Map<string, ArrayLike<number>>, q: ArrayLike<number>, k: number): { id: string; d: number }[] {
  return [...data.entries()]
    .map(([id, v]) => ({ id, d: distance(metric, q, v) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, k);
}

/** Asserts a result row equals the reference: same distances (within float32 error) and same ids where distances are not tied. */
export function sameNeighbours(got: { ids: string[]; distances: number[] }, want: { id: string; d: number }[], tol = 1e-4): string | null {
  if (got.ids.length !== want.length) return `expected ${want.length} results, got ${got.ids.length}`;
  for (let i = 0; i < want.length; i++) {
    const scale = Math.max(1, Math.abs(want[i]!.d));
    if (Math.abs(got.distances[i]! - want[i]!.d) > tol * scale) return `distance ${i}: got ${got.distances[i]}, want ${want[i]!.d}`;
  }
  // Ids may permute only among (near-)equal distances.
  const wantIds = new Set(want.map((w) => w.id));
  for (let i = 0; i < want.length; i++) {
    if (!wantIds.has(got.ids[i]!)) {
      const boundary = want[want.length - 1]!.d;
      if (Math.abs(got.distances[i]! - boundary) > tol * Math.max(1, Math.abs(boundary))) return `id ${got.ids[i]} at ${i} is not among the true neighbours`;
    }
  }
  return null;
}
