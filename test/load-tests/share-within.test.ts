/** The benchmark's server-side latency share: from two cumulative histogram readings, the share of the answers between them within a bound. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shareWithin } from '../../load-tests/vs-chroma/hotvec.js';

test('share within a bound counts only the answers between the two readings', () => {
  const before = new Map([
    [0.005, 50],
    [0.01, 90],
    [Infinity, 100],
  ]);
  const after = new Map([
    [0.005, 850],
    [0.01, 1080],
    [Infinity, 1100],
  ]);
  assert.equal(shareWithin(before, after, 0.01), 0.99);
  assert.equal(shareWithin(before, after, 0.005), 0.8);
  assert.ok(Number.isNaN(shareWithin(after, after, 0.01)), 'no answers in between');
  assert.throws(() => shareWithin(before, after, 0.02), /no bucket at 0.02/);
});
