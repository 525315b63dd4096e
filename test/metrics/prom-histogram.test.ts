/** FastHistogram: cumulative buckets, sum and count exposed through prom-client, parsed back by a Prometheus text parser. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { FastHistogram, normalizeBuckets } from '../../src/metrics/prom-histogram.js';
import { parsePrometheus, select } from './prometheus-text.js';

test('buckets are sorted, de-duplicated and positive', () => {
  assert.deepEqual(normalizeBuckets([0.01, 0.005, 0.01, 0, -1, Infinity, 1]), [0.005, 0.01, 1]);
});

test('observations land in the right cumulative buckets, per label set', async () => {
  const registry = new Registry();
  const h = new FastHistogram({ name: 'x_duration_seconds', help: 'test', labelNames: ['op'], buckets: [0.001, 0.01, 0.1], registry });
  const a = h.series('a');
  for (const v of [0.0005, 0.001, 0.002, 0.05, 3]) a.observe(v);
  assert.equal(h.series('a'), a, 'the same series for the same labels');
  h.series('b').observe(0.02);
  const { families, samples } = parsePrometheus(await registry.metrics());
  assert.equal(families.get('x_duration_seconds')?.type, 'HISTOGRAM');
  const buckets = (op: string): Record<string, number> =>
    Object.fromEntries(select(samples, 'x_duration_seconds_bucket', { op }).map((s) => [s.labels.le!, s.value]));
  // `le` is inclusive: 0.001 goes in the 0.001 bucket.
  assert.deepEqual(buckets('a'), { '0.001': 2, '0.01': 3, '0.1': 4, '+Inf': 5 });
  assert.equal(select(samples, 'x_duration_seconds_count', { op: 'a' })[0]!.value, 5);
  assert.ok(Math.abs(select(samples, 'x_duration_seconds_sum', { op: 'a' })[0]!.value - 3.0535) < 1e-9);
  assert.deepEqual(buckets('b'), { '0.001': 0, '0.01': 0, '0.1': 1, '+Inf': 1 });

  registry.resetMetrics();
  const after = parsePrometheus(await registry.metrics());
  assert.equal(select(after.samples, 'x_duration_seconds_count', { op: 'a' })[0]!.value, 0);
});

test('bad names and label counts are refused', () => {
  const registry = new Registry();
  assert.throws(() => new FastHistogram({ name: 'bad-name', help: '', labelNames: [], buckets: [1], registry }), /metric name/);
  assert.throws(() => new FastHistogram({ name: 'x', help: '', labelNames: ['le'], buckets: [1], registry }), /label name/);
  const h = new FastHistogram({ name: 'y', help: '', labelNames: ['a', 'b'], buckets: [1], registry });
  assert.throws(() => h.series('only-one'), /2 label values/);
});
