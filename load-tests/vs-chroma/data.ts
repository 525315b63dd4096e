/**
 * The benchmark's data: clustered synthetic vectors with a low intrinsic dimension (as real
 * embeddings have), brute-force exact neighbours, and recall against them.
 *
 * Each cluster is a centre plus a random linear image of a small Gaussian latent space plus
 * isotropic noise: neighbours are meaningful (unlike uniform noise in 784 dimensions, where
 * every point is about equally far from every other and no ANN index does well).
 */
import { rng } from '../../test/helpers/hotvec.js';

export interface DatasetOptions {
  dim: number;
  clusters: number;
  /** Dimension of each cluster's latent space. */
  intrinsic: number;
  seed: number;
}

export class ClusteredSource {
  private readonly centres: Float32Array[];
  private readonly bases: Float32Array[];
  private readonly random: () => number;
  private spare: number | undefined;

  constructor(private readonly o: DatasetOptions) {
    this.random = rng(o.seed);
    const centre = (): Float32Array => Float32Array.from({ length: o.dim }, () => 0.5 * this.gauss());
    this.centres = Array.from({ length: o.clusters }, centre);
    // dim × intrinsic, scaled so each coordinate of a cluster's spread has standard deviation 0.5.
    const scale = 0.5 / Math.sqrt(o.intrinsic);
    this.bases = Array.from({ length: o.clusters }, () => Float32Array.from({ length: o.dim * o.intrinsic }, () => scale * this.gauss()));
  }

  private gauss(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = Math.max(this.random(), 1e-12);
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** `count` new points, row-major. */
  take(count: number): Float32Array {
    const { dim, intrinsic, clusters } = this.o;
    const out = new Float32Array(count * dim);
    const z = new Float64Array(intrinsic);
    for (let i = 0; i < count; i++) {
      const c = Math.floor(this.random() * clusters);
      const centre = this.centres[c]!;
      const basis = this.bases[c]!;
      for (let j = 0; j < intrinsic; j++) z[j] = this.gauss();
      const row = i * dim;
      for (let d = 0; d < dim; d++) {
        let x = centre[d]! + 0.05 * this.gauss();
        const b = d * intrinsic;
        for (let j = 0; j < intrinsic; j++) x += basis[b + j]! * z[j]!;
        out[row + d] = x;
      }
    }
    return out;
  }
}

/** Exact k nearest neighbours (squared l2, float64 sums) of each query: indices into `data`. */
export function exactNeighbours(data: Float32Array, queries: Float32Array, dim: number, k: number): number[][] {
  const n = data.length / dim;
  const out: number[][] = [];
  for (let q = 0; q < queries.length / dim; q++) {
    const qo = q * dim;
    const best: { i: number; d: number }[] = [];
    let worst = Infinity;
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      let s = 0;
      for (let j = 0; j < dim; j++) {
        const t = data[o + j]! - queries[qo + j]!;
        s += t * t;
        if (s >= worst) break; // cannot enter the top k
      }
      if (s >= worst) continue;
      best.push({ i, d: s });
      best.sort((a, b) => a.d - b.d);
      if (best.length > k) best.pop();
      if (best.length === k) worst = best[k - 1]!.d;
    }
    out.push(best.map((b) => b.i));
  }
  return out;
}

/** Mean fraction of the true k neighbours found, over all queries. */
export function recallAtK(found: string[][], truth: number[][], idOf: (i: number) => string): number {
  let sum = 0;
  truth.forEach((t, q) => {
    const got = new Set(found[q]);
    let hit = 0;
    for (const i of t) if (got.has(idOf(i))) hit++;
    sum += hit / t.length;
  });
  return sum / truth.length;
}
