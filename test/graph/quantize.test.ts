/**
 * hotvec's int8 quantiser for l2 i8 graphs: each dimension's range is centred and the widest
 * half-range maps onto ±127, a few far-off values neither move the centre nor coarsen the steps
 * (they clamp), values round half away from zero and clamp (never wrap), and squared L2 of
 * quantised vectors is scale² × the float one up to the rounding.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitI8, quantizeI8 } from '../../src/graph/quantize.js';
import { randomVectors, rng } from '../helpers/hotvec.js';

test('a few rows: each dimension is centred on its mid-range, the widest half-range maps onto ±127', () => {
  // Dimension 0 spans 990..1010, dimension 1 spans -1..3.
  const q = fitI8(new Float32Array([990, -1, 1010, 3, 1000, 1]), 2);
  assert.deepEqual([...q.offset], [1000, 1]);
  assert.equal(q.scale, 127 / 10);
  assert.deepEqual([...quantizeI8(new Float32Array([990, -1, 1010, 3, 1000, 1, 1005, 2]), q)], [-127, -25, 127, 25, 0, 0, 64, 13]);
  assert.deepEqual(fitI8(new Float32Array(8), 4), { scale: 1, offset: new Float32Array(4) }, 'all-zero vectors get scale 1');
  assert.deepEqual(fitI8(new Float32Array(0), 4), { scale: 1, offset: new Float32Array(4) }, 'no vectors');
});

test('rounding is half away from zero, out-of-range values clamp instead of wrapping, NaN is 0', () => {
  const q = { scale: 63.5, offset: new Float32Array([0, 0]) };
  // × 63.5: 31.75 → 32, ±63.5 → ±64, 0.2 → 0, 2.6 → 3; beyond the range → ±127.
  assert.deepEqual([...quantizeI8(new Float32Array([2, -2, 0.5, 1, -1, 0.2 / 63.5, 2.6 / 63.5, 1000, -1000, Number.NaN]), q)], [127, -127, 32, 64, -64, 0, 3, 127, -127, 0]);
  assert.throws(() => quantizeI8(new Float32Array(3), q, new Int8Array(2)), RangeError);
});

test('a handful of far-off vectors neither move the centre nor coarsen the steps: they clamp', () => {
  const dim = 16;
  const rows = randomVectors(5000, dim, 3).flat();
  const clean = fitI8(new Float32Array(rows), dim);
  const r = rng(4);
  for (let i = 0; i < 3; i++) {
    const at = Math.floor(r() * 5000) * dim;
    for (let d = 0; d < dim; d++) rows[at + d]! *= 1e4;
  }
  const dirty = fitI8(new Float32Array(rows), dim);
  assert.ok(dirty.scale > 0.9 * clean.scale, `scale ${dirty.scale} vs ${clean.scale} without the outliers`);
  for (let d = 0; d < dim; d++) assert.ok(Math.abs(dirty.offset[d]! - clean.offset[d]!) < 0.05, `centre of dimension ${d}: ${dirty.offset[d]} vs ${clean.offset[d]}`);
});

test('squared L2 of quantised vectors is scale² × the float one, up to the rounding', () => {
  const dim = 32;
  // Under 64 rows the fitted range is the whole range: nothing clamps.
  const rows = randomVectors(60, dim, 7).map((v) => v.map((x) => Math.fround(x * 3 + 50)));
  const flat = new Float32Array(rows.flat());
  const q = fitI8(flat, dim);
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
