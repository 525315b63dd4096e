/**
 * The task of native-bench/dispatch.ts: takes a query and answers a top-10 result buffer of
 * the engine's shape (10 int32 slots, then 10 float32 distances) without searching, so a
 * round trip through the pool costs dispatch alone.
 */
import { move } from 'piscina';

export const K = 10;

/** The same work in either thread: one small allocation, the query read once. */
export function answer(query: Float32Array): ArrayBuffer {
  const out = new ArrayBuffer(K * 8);
  const slots = new Int32Array(out, 0, K);
  for (let i = 0; i < K; i++) slots[i] = i;
  new Float32Array(out, K * 4, K).fill(query[0] ?? 0);
  return out;
}

export default function task(query: Float32Array): ArrayBuffer {
  return move(answer(query)) as ArrayBuffer;
}
