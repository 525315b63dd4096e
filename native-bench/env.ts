/** Sizes the benches read from the environment (`HOTVEC_BENCH_N=60000 npm run bench:native -- hnsw`). */

/** An integer of at least `min` from `process.env[name]`, else `fallback`; anything else is an error. */
export function sizeFromEnv(name: string, fallback: number, min = 1): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer of at least ${min}, got ${process.env[name]}`);
  return value;
}
