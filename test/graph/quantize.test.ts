/**
 * hotvec's int8 quantiser for i8 graphs: the fitted range maps onto ±127, values round half away
 * from zero and clamp (never wrap), l2 data are centred per dimension, and squared L2 distances of
 * quantised vectors order pairs as the float ones do up to the rounding.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitI8, quantizeI8 } from '../../src/graph/quantize.js';
import { randomVectors } from '../helpers/hotvec.js';

test('the fitted range maps onto ±127; values round half away from zero and clamp instead of wrapping', () => {
  const q = fitI8(new Float32Array([0.5, -2, 1, 0.25]), 2, false);
  assert.equal(q.scale, 127 / 2);
  assert.equal(q.offset, undefined);
  // × 63.5: 31.75 → 32, ±63.5 → ±64 (half away from zero), 0.2 → 0, 2.6 → 3; beyond the range → ±127; NaN → 0.
  assert.deepEqual([...quantizeI8(new Float32Array([2, -2, 0.5, 1, -1, 0.2 / 63.5, 2.6 / 63.5, 1000, -1000, Number.NaN]), q)], [127, -127, 32, 64, -64, 0, 3, 127, -127, 0]);
  assert.equal(fitI8(new Float32Array(8), 4, false).scale, 1, 'all-zero vectors get scale 1');
  assert.throws(() => quantizeI8(new Float32Array(3), q, new Int8Array(2)), RangeError);
});

test('centring: each dimension is shifted to its mid-range before one shared scale', () => {
  // Dimension 0 spans 990..1010, dimension 1 spans -1..3.
  const q = fitI8(new Float32Array([990, -1, 1010, 3, 1000, 1]), 2, true);
  assert.deepEqual([...q.offset!], [1000, 1]);
  assert.equal(q.scale, 127 / 10);
  assert.deepEqual([...quantizeI8(new Float32Array([990, -1, 1010, 3, 1000, 1, 1005, 2]), q)], [-127, -25, 127, 25, 0, 0, 64, 13]);
});

test('squared L2 of quantised vectors is scale² × the float one, up to the rounding', () => {
  const dim = 32;
  const rows = randomVectors(200, dim, 7).map((v) => v.map((x) => Math.fround(x * 3 + 50)));
  const flat = new Float32Array(rows.flat());
  const q = fitI8(flat, dim, true);
  const codes = quantizeI8(flat, q);
  const l2 = (a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number): number => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (a[ai * dim + d]! - b[bi * dim + d]!) ** 2;
    return s;
  };
  // Each coordinate moves by at most half a step: |‖a'−b'‖ − s‖a−b‖| ≤ √dim.
  for (let i = 1; i < rows.length; i++) {
    const exact = Math.sqrt(l2(flat, 0, flat, i)) * q.scale;
    const coded = Math.sqrt(l2(codes, 0, codes, i));
    assert.ok(Math.abs(coded - exact) <= Math.sqrt(dim) + 1e-9, `row ${i}: ${coded} vs ${exact}`);
  }
});
