/** SlidingCounts: window sums over the ring, across its wrap-around. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlidingCounts } from '../../src/metrics/sliding-counts.js';
import { HOUR_SLOTS } from '../../src/metrics/windows.js';

test('sums the last n slots, the current one included, across the wrap-around', () => {
  const c = new SlidingCounts(2);
  // Slot i gets i in column 0 and 1 in column 1, for 1.5 turns of the ring.
  const total = HOUR_SLOTS + HOUR_SLOTS / 2;
  for (let i = 1; i <= total; i++) {
    c.add(0, i);
    c.add(1);
    if (i < total) c.rotate();
  }
  const sumLast = (n: number): number => {
    let s = 0;
    for (let i = total - n + 1; i <= total; i++) s += i;
    return s;
  };
  for (const n of [1, 3, 30, 180, HOUR_SLOTS]) {
    const got = c.sum(n);
    assert.equal(got[0], sumLast(n), `column 0 over ${n} slots`);
    assert.equal(got[1], n, `column 1 over ${n} slots`);
  }
  // Asking for more than the ring holds gives the whole hour.
  assert.equal(c.sum(10_000)[1], HOUR_SLOTS);
});

test('a rotated-in slot starts at zero', () => {
  const c = new SlidingCounts(1);
  for (let i = 0; i < HOUR_SLOTS; i++) {
    c.add(0, 5);
    c.rotate();
  }
  assert.equal(c.sum(1)[0], 0);
  assert.equal(c.sum(HOUR_SLOTS)[0], 5 * (HOUR_SLOTS - 1));
});
