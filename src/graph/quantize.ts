/**
 * hotvec's own int8 quantisation of the vectors inside an l2 `i8` HNSW graph.
 *
 * usearch's own float→int8 cast scales every vector to unit length and then by 127: right for
 * cosine (which compares directions, and is left to that cast), but it makes an l2 graph rank
 * by direction alone (recall@10 0.42 on the benchmark's data). So for l2 hotvec hands usearch
 * Int8Array vectors it quantised itself, with one quantiser per graph fitted to that graph's
 * vectors:
 *
 *   q = round((x − centre) × scale), clamped to ±127
 *
 * `centre` is the middle of each dimension's robust range (its 0.5% and 99.5% quantiles over a
 * sample of rows) and `scale` = 127 / the widest half-range, so a few far-off vectors neither
 * move the centre nor coarsen everyone else's steps: they are clamped, and the exact float32
 * re-rank of the candidates (vector-index/scan.ts) gives them their true distances back. One
 * scale for every dimension keeps squared L2 a multiple (scale²) of the float one up to rounding
 * and clamping, and a shift changes no L2 distance. Queries are quantised with the quantiser of
 * the graph they search.
 *
 * Inner product is not offered at all: usearch's int8 inner product normalises too.
 */

export interface I8Quantizer {
  scale: number;
  /** Per-dimension shift subtracted before scaling. */
  offset: Float32Array;
}

/** Rows sampled to fit a quantiser (evenly spread over the graph's vectors). */
const SAMPLE_ROWS = 4096;
/** The fraction of each dimension's sampled values below (and above) its fitted range. */
const TAIL = 0.005;

/** The quantiser for an l2 graph over `vectors` (rows of `dimension`). */
export function fitI8(vectors: Float32Array, dimension: number): I8Quantizer {
  const rows = Math.floor(vectors.length / dimension);
  const offset = new Float32Array(dimension);
  if (rows === 0) return { scale: 1, offset };
  const take = Math.min(rows, SAMPLE_ROWS);
  const column = new Float32Array(take);
  // At least the one most extreme value each side once there are enough rows to call it an outlier.
  const lowAt = take >= 64 ? Math.max(1, Math.floor(TAIL * (take - 1))) : 0;
  const highAt = take - 1 - lowAt;
  let halfRange = 0;
  for (let d = 0; d < dimension; d++) {
    for (let s = 0; s < take; s++) column[s] = vectors[Math.floor((s * rows) / take) * dimension + d]!;
    column.sort();
    const lo = column[lowAt]!;
    const hi = column[highAt]!;
    offset[d] = (lo + hi) / 2;
    halfRange = Math.max(halfRange, (hi - lo) / 2);
  }
  return { scale: halfRange > 0 && Number.isFinite(halfRange) ? 127 / halfRange : 1, offset };
}

/**
 * Quantises rows of floats (the offset repeats every `offset.length` values) into `out`:
 * rounded half away from zero, clamped to ±127.
 */
export function quantizeI8(src: Float32Array, q: I8Quantizer, out: Int8Array = new Int8Array(src.length)): Int8Array {
  if (out.length !== src.length) throw new RangeError(`quantizeI8: output length ${out.length} is not the input's ${src.length}`);
  const { scale, offset } = q;
  const dim = offset.length;
  for (let i = 0, d = 0; i < src.length; i++, d = d + 1 === dim ? 0 : d + 1) {
    const x = (src[i]! - offset[d]!) * scale;
    // Int8Array stores ToInt8 (wrap-around): clamp before the store. NaN stores 0.
    out[i] = x >= 127 ? 127 : x <= -127 ? -127 : Math.sign(x) * Math.round(Math.abs(x));
  }
  return out;
}
