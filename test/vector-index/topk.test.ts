import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopK } from '../../src/vector-index/topk.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('keeps the k smallest in ascending order, matching a full sort', () => {
  const rand = rng(7);
  const t = new TopK(2);
  for (const k of [1, 3, 10, 64]) {
    for (const n of [0, 1, k - 1, k, k + 1, 500]) {
      const d = Array.from({ length: n }, () => Math.floor(rand() * 50)); // ties on purpose
      t.reset(k);
      d.forEach((x, i) => t.push(x, i));
      const slots = new Int32Array(k);
      const dist = new Float32Array(k);
      t.drainSorted(slots, dist, 0);
      const expected = d.map((x, i) => [x, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, k);
      assert.deepEqual(Array.from(dist.slice(0, expected.length)), expected.map((e) => e[0]));
      for (let i = expected.length; i < k; i++) assert.equal(slots[i], -1);
      // Among ties the kept set may differ; the distance multiset may not.
      assert.equal(new Set(Array.from(slots.slice(0, expected.length))).size, expected.length);
    }
  }
});
