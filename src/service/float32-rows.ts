/**
 * Embeddings that a decoder has already turned into float32: one Float32Array with the rows
 * back to back, and each row's length (validation checks them against the collection's
 * dimension, as it does for number arrays). Every value is finite and fits float32.
 */
export class Float32Rows {
  constructor(
    readonly values: Float32Array,
    readonly rowLengths: readonly number[],
  ) {}
}
