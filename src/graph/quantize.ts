/**
 * hotvec's own int8 quantisation of the vectors inside an `i8` HNSW graph.
 *
 * usearch casts float32 input to int8 as round(x × 100) clamped to ±100: fine for unit-length
 * (cosine) vectors, destructive for anything else (recall@10 0.42 on the benchmark's l2 data).
 * So hotvec hands usearch Int8Array vectors it quantised itself, with one quantiser per graph
 * fitted to that graph's vectors:
 *
 *   q = round((x − offset) × scale), offset = each dimension's mid-range (l2 only), scale = 127 / max |x − offset|
 *
 * One scale for every dimension keeps squared L2 a multiple (scale²) of the float one, and a
 * shift changes no L2 distance; cosine gets no shift (it would change angles) and its vectors are
 * unit length anyway. So the graph's order is the float order up to rounding, and the exact
 * float32 re-rank of the candidates (vector-index/scan.ts) makes the distances exact again.
 * Queries are quantised with the quantiser of the graph they search (clamped: a query outside
 * the data's range still finds the nearest points).
 *
 * Inner product is not offered: usearch's int8 inner product is not a dot product.
 */

export interface I8Quantizer {
  scale: number;
  /** Per-dimension shift subtracted before scaling (l2 graphs); absent: none. */
  offset?: Float32Array;
}

/** The quantiser for a graph over `vectors` (rows of `dimension`); `centre`: shift each dimension to its mid-range (l2). */
export function fitI8(vectors: Float32Array, dimension: number, centre: boolean): I8Quantizer {
  const rows = vectors.length / dimension;
  let offset: Float32Array | undefined;
  if (centre && rows > 0) {
    const lo = new Float32Array(dimension).fill(Infinity);
    const hi = new Float32Array(dimension).fill(-Infinity);
    for (let r = 0; r < rows; r++) {
      for (let d = 0, at = r * dimension; d < dimension; d++) {
        const x = vectors[at + d]!;
        if (x < lo[d]!) lo[d] = x;
        if (x > hi[d]!) hi[d] = x;
      }
    }
    offset = new Float32Array(dimension);
    for (let d = 0; d < dimension; d++) offset[d] = (lo[d]! + hi[d]!) / 2;
  }
  let max = 0;
  for (let i = 0; i < vectors.length; i++) {
    const a = Math.abs(vectors[i]! - (offset ? offset[i % dimension]! : 0));
    if (a > max) max = a;
  }
  const scale = max > 0 && Number.isFinite(max) ? 127 / max : 1;
  return offset ? { scale, offset } : { scale };
}

/**
 * Quantises rows of floats (the offset repeats every `offset.length` values) into `out`:
 * rounded half away from zero, clamped to ±127.
 */
export function quantizeI8(src: Float32Array, q: I8Quantizer, out: Int8Array = new Int8Array(src.length)): Int8Array {
  if (out.length !== src.length) throw new RangeError(`quantizeI8: output length ${out.length} is not the input's ${src.length}`);
  const { scale, offset } = q;
  const dim = offset ? offset.length : 1;
  for (let i = 0; i < src.length; i++) {
    const x = (src[i]! - (offset ? offset[i % dim]! : 0)) * scale;
    // Int8Array stores ToInt8 (wrap-around): clamp before the store. NaN stores 0.
    out[i] = x >= 127 ? 127 : x <= -127 ? -127 : Math.sign(x) * Math.round(Math.abs(x));
  }
  return out;
}
