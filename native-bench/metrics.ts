/**
 * What recording a measurement costs on the main thread, in ns per call: the full
 * per-request hook hotvec runs (`Metrics.observeRequest`: HDR window + SLA counts +
 * Prometheus buckets), the per-query pool hook, and their parts, beside prom-client's own
 * labelled `Histogram.observe` (what the hot path avoids) and the HDR record alone. Also the
 * cost of one SLA evaluation (`tick`, once a second) and of one `/metrics` render.
 *
 * Implementations are measured round-robin, repeat after repeat, so machine drift spreads
 * over all of them. Values vary like real latencies (log-uniform 50 µs – 50 ms), labels
 * like real traffic (query/upsert/get, http/ws, mostly 200).
 */
import { performance } from 'node:perf_hooks';
import { Histogram, Registry } from 'prom-client';
import { newHistogram, toMicros } from '../src/metrics/hdr.js';
import { Metrics } from '../src/metrics/metrics.js';
import { FastHistogram } from '../src/metrics/prom-histogram.js';
import { BASE_BUCKETS } from '../src/metrics/prometheus.js';
import { median, type BenchRow } from './report.js';

const BENCH = 'metrics';
const REPEATS = 9;
const SAMPLE_MS = 150;
const WARMUP_MS = 300;
const N = 4096;

const TARGETS = { queryP99Ms: 10, queryP95Ms: 5, errorRatio: 0.001, writeLagMs: 5000, writeLagCompliance: 0.999 };

/** Pre-drawn inputs, so the loop measures recording, not random number generation. */
const seconds = Float64Array.from({ length: N }, (_, i) => 50e-6 * 1000 ** (((i * 2654435761) % N) / N));
const ops = Array.from({ length: N }, (_, i) => (['query', 'query', 'query', 'upsert', 'get'] as const)[i % 5]!);
const transports = Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 'ws' : 'http') as 'http' | 'ws');
const statuses = Int32Array.from({ length: N }, (_, i) => (i % 97 === 0 ? 404 : 200));

type Case = { name: string; impl: string; run: (iterations: number) => void };

function nsPerCall(run: (iterations: number) => void): number {
  let iterations = 1024;
  for (;;) {
    const t0 = performance.now();
    run(iterations);
    const ms = performance.now() - t0;
    if (ms >= SAMPLE_MS) return (ms * 1e6) / iterations;
    iterations *= ms < SAMPLE_MS / 8 ? 8 : 2;
  }
}

function cases(): Case[] {
  const metrics = new Metrics({ targets: TARGETS, defaultMetrics: false });
  const registry = new Registry();
  const prom = new Histogram({ name: 'bench_seconds', help: 'x', labelNames: ['op', 'transport', 'status'], buckets: BASE_BUCKETS, registers: [registry] });
  const promChild = prom.labels('query', 'http', '200');
  const fast = new FastHistogram({ name: 'bench_fast_seconds', help: 'x', labelNames: ['op'], buckets: BASE_BUCKETS, registry }).series('query');
  const hdr = newHistogram();
  const statusText = Array.from(statuses, String);
  return [
    {
      name: 'per request (op, transport, status, seconds)',
      impl: 'hotvec Metrics.observeRequest',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const j = i & (N - 1);
          metrics.observeRequest(ops[j]!, transports[j]!, statuses[j]!, seconds[j]!);
        }
      },
    },
    {
      name: 'per request (op, transport, status, seconds)',
      impl: 'prom-client Histogram.observe(labels)',
      run: (n) => {
        for (let i = 0; i < n; i++) {
          const j = i & (N - 1);
          prom.observe({ op: ops[j]!, transport: transports[j]!, status: statusText[j]! }, seconds[j]!);
        }
      },
    },
    {
      name: 'per request, one label set',
      impl: 'prom-client child.observe',
      run: (n) => {
        for (let i = 0; i < n; i++) promChild.observe(seconds[i & (N - 1)]!);
      },
    },
    {
      name: 'per request, one label set',
      impl: 'hotvec FastHistogram series.observe',
      run: (n) => {
        for (let i = 0; i < n; i++) fast.observe(seconds[i & (N - 1)]!);
      },
    },
    {
      name: 'per request, one label set',
      impl: 'hdr-histogram-js recordValue (µs)',
      run: (n) => {
        for (let i = 0; i < n; i++) hdr.recordValue(toMicros(seconds[i & (N - 1)]!));
      },
    },
    {
      name: 'per query task (wait, run)',
      impl: 'hotvec Metrics.observePoolTask',
      run: (n) => {
        for (let i = 0; i < n; i++) metrics.observePoolTask(seconds[i & (N - 1)]! / 10, seconds[(i + 7) & (N - 1)]!);
      },
    },
    {
      name: 'SLA evaluation, once a second',
      impl: 'hotvec Metrics.tick',
      run: (n) => {
        for (let i = 0; i < n; i++) metrics.tick();
      },
    },
  ];
}

export async function run(): Promise<BenchRow[]> {
  const all = cases();
  const samples = new Map<Case, number[]>(all.map((c) => [c, []]));
  for (const c of all) {
    const end = performance.now() + WARMUP_MS;
    while (performance.now() < end) c.run(1024);
  }
  for (let r = 0; r < REPEATS; r++) for (const c of all) samples.get(c)!.push(nsPerCall(c.run));

  // /metrics renders asynchronously: timed per call, not per loop.
  const metrics = new Metrics({ targets: TARGETS });
  for (let i = 0; i < 100_000; i++) metrics.observeRequest(ops[i & (N - 1)]!, transports[i & (N - 1)]!, statuses[i & (N - 1)]!, seconds[i & (N - 1)]!);
  const render: number[] = [];
  for (let r = 0; r < REPEATS * 5; r++) {
    const t0 = performance.now();
    await metrics.prometheus();
    render.push((performance.now() - t0) * 1e6);
  }
  metrics.close();

  const rows: BenchRow[] = all.map((c) => ({ bench: BENCH, case: c.name, impl: c.impl, median: median(samples.get(c)!), unit: 'ns/call', samples: samples.get(c)! }));
  rows.push({ bench: BENCH, case: 'GET /metrics render (default metrics on)', impl: 'hotvec Metrics.prometheus', median: median(render), unit: 'ns/call', samples: render });
  const ours = rows[0]!.median;
  const theirs = rows[1]!.median;
  rows[0]!.extra = { 'x faster than prom-client labels': theirs / ours };
  return rows;
}
