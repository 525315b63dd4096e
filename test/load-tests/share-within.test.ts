/**
 * The benchmark's server-side latency share: the 2xx HTTP query answers of hotvec's own latency
 * histogram, read from a real exposition of hotvec's metrics, and the share between two
 * readings within a bound.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { queryLatencyCounts, shareWithin } from '../../load-tests/vs-chroma/hotvec.js';
import { createPromMetrics } from '../../src/metrics/prometheus.js';

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

test("queryLatencyCounts reads hotvec's exposition: HTTP query answers with a 2xx status only", async () => {
  const prom = createPromMetrics({ targetsSeconds: [0.01], defaultMetrics: false, sources: () => ({}), report: () => undefined });
  const observe = (op: string, transport: string, status: string, seconds: number, times: number): void => {
    const series = prom.requests.series(op, transport, status);
    for (let i = 0; i < times; i++) series.observe(seconds);
  };
  observe('query', 'http', '200', 0.004, 7); // counted: within 5 ms
  observe('query', 'http', '200', 0.02, 3); // counted: beyond 10 ms
  observe('query', 'http', '503', 0.001, 5); // an error answer: not counted
  observe('query', 'ws', '200', 0.001, 4); // another transport
  observe('upsert', 'http', '200', 0.001, 6); // another operation
  const server = createServer((_req, res) => {
    void prom.registry.metrics().then((text) => res.end(text));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const counts = await queryLatencyCounts(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    assert.equal(counts.get(Infinity), 10);
    assert.equal(counts.get(0.005), 7);
    assert.equal(counts.get(0.01), 7);
    assert.equal(counts.get(0.025), 10);
    assert.equal(shareWithin(new Map([[0.01, 0], [Infinity, 0]]), counts, 0.01), 0.7);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});
