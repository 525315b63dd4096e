/** SlidingHistogram: what each window holds as 10-s slots and minutes close, and that recycled histograms start empty. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HistogramPool, newHistogram } from '../../src/metrics/hdr.js';
import { SlidingHistogram } from '../../src/metrics/sliding-histogram.js';
import type { LatencyWindow } from '../../src/metrics/windows.js';

function countIn(h: SlidingHistogram, window: LatencyWindow): number {
  const into = newHistogram();
  h.addTo(window, into);
  return into.totalCount;
}

/** Advances n slots the way Metrics does: every 6th rotation closes a minute. */
function rotate(h: SlidingHistogram, n: number, state: { rotations: number }): void {
  for (let i = 0; i < n; i++) h.rotate(++state.rotations % 6 === 0);
}

test('each window sees exactly the slots it spans: 6 for 1m, 30 for 5m, 360 for 1h', () => {
  const h = new SlidingHistogram(new HistogramPool());
  const state = { rotations: 0 };
  // One value per slot, for 400 slots; after each, check the windows against a count of slots.
  for (let slot = 1; slot <= 400; slot++) {
    h.record(1000 + slot);
    assert.equal(countIn(h, '1m'), Math.min(slot, 6), `1m after ${slot} slots`);
    assert.equal(countIn(h, '5m'), Math.min(slot, 30), `5m after ${slot} slots`);
    // 1h = the current minute's slots plus the 59 minutes before it.
    const inCurrentMinute = ((slot - 1) % 6) + 1;
    const closedMinutes = Math.floor((slot - 1) / 6);
    assert.equal(countIn(h, '1h'), Math.min(closedMinutes, 59) * 6 + inCurrentMinute, `1h after ${slot} slots`);
    rotate(h, 1, state);
  }
});

test('percentiles of a window are those of the values recorded in it (within 1 %)', () => {
  const h = new SlidingHistogram(new HistogramPool());
  const state = { rotations: 0 };
  // 10 slots of 1 ms values, then 6 slots of 100 ms values: 1m holds only the slow ones.
  for (let s = 0; s < 10; s++) {
    for (let i = 0; i < 100; i++) h.record(1000);
    rotate(h, 1, state);
  }
  for (let s = 0; s < 6; s++) {
    for (let i = 0; i < 100; i++) h.record(100_000);
    if (s < 5) rotate(h, 1, state);
  }
  const m1 = newHistogram();
  h.addTo('1m', m1);
  assert.equal(m1.totalCount, 600);
  assert.ok(Math.abs(m1.getValueAtPercentile(50) - 100_000) <= 1000, `p50 ${m1.getValueAtPercentile(50)}`);
  const m5 = newHistogram();
  h.addTo('5m', m5);
  assert.equal(m5.totalCount, 1600);
  assert.ok(Math.abs(m5.getValueAtPercentile(50) - 1000) <= 10, `p50 ${m5.getValueAtPercentile(50)}`);
  assert.ok(Math.abs(m5.getValueAtPercentile(99) - 100_000) <= 1000);
});

test('slots without traffic hold nothing and an idle series empties after an hour', () => {
  const h = new SlidingHistogram(new HistogramPool());
  const state = { rotations: 0 };
  h.record(5);
  rotate(h, 359, state);
  assert.equal(countIn(h, '1h'), 1);
  assert.equal(h.empty, false);
  rotate(h, 6, state);
  assert.equal(countIn(h, '1h'), 0);
  assert.equal(h.empty, true);
});

test('the pool hands back reset histograms', () => {
  const pool = new HistogramPool(2);
  const a = pool.take();
  a.recordValue(10);
  pool.give(a);
  const b = pool.take();
  assert.equal(b, a);
  assert.equal(b.totalCount, 0);
});
