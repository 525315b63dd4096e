/**
 * Baseline numbers for the end-to-end engine: acknowledged (durable) upserts/s, then query
 * latency from one sequential client and saturated query throughput under autocannon (HTTP,
 * JSON). Starts the real engine with a managed Chroma in a temporary data folder, with the
 * hot-query cache off (the queries repeat; this measures the scan, not the cache).
 *
 *   npm run build && node dist/load-tests/baseline.js [--n 20000] [--dim 128] [--duration 10]
 *     [--connections 16] [--batch 500] [--upsert-concurrency 4] [--workers N] [--fsync always]
 *
 * Prints a table and writes load-tests/results/baseline-<n>x<dim>.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Packr } from 'msgpackr';
import { removeDir, startHotvec } from '../test/helpers/hotvec.js';
import { clusteredVectors, rowsAsBin } from './lib/dataset.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    dim: { type: 'string', default: '128' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '16' },
    batch: { type: 'string', default: '500' },
    'upsert-concurrency': { type: 'string', default: '4' },
    workers: { type: 'string', default: '2' },
    fsync: { type: 'string', default: 'always' },
    'chroma-url': { type: 'string' },
  },
});
const n = Number(values.n);
const dim = Number(values.dim);
const batch = Number(values.batch);
const packr = new Packr({ useRecords: false });

const clustered = (count: number, seed: number): Float32Array => clusteredVectors(count, dim, seed);

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

async function main(): Promise<void> {
  const hv = await startHotvec({
    args: ['--workers', String(values.workers), '--fsync', String(values.fsync), '--cache-bytes', '0'],
    ...(values['chroma-url'] ? { chromaUrl: values['chroma-url'] } : {}),
  });
  try {
    const coll = `bench${dim}`;
    await fetch(`${hv.url}/v1/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: coll, dimension: dim }) });
    const data = clustered(n, 1);

    // 1. Upserts: msgpack float32 bins, `upsert-concurrency` batches in flight.
    const batches: number[] = [];
    for (let i = 0; i < n; i += batch) batches.push(i);
    const t0 = performance.now();
    const lat: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Number(values['upsert-concurrency']) }, async () => {
        while (next < batches.length) {
          const start = batches[next++]!;
          const end = Math.min(n, start + batch);
          const ids = Array.from({ length: end - start }, (_, i) => `v${start + i}`);
          const s = performance.now();
          const r = await fetch(`${hv.url}/v1/collections/${coll}/upsert`, {
            method: 'POST',
            headers: { 'content-type': 'application/msgpack' },
            body: packr.pack({ ids, embeddings: rowsAsBin(data, dim, start, end) }),
          });
          if (r.status !== 200) throw new Error(`upsert failed: ${r.status} ${await r.text()}`);
          await r.arrayBuffer();
          lat.push(performance.now() - s);
        }
      }),
    );
    const upsertSeconds = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);

    // 2. One sequential client: latency of distinct queries.
    const queries = clustered(1000, 2);
    const body = (i: number): string => JSON.stringify({ embeddings: [Array.from(queries.subarray((i % 1000) * dim, ((i % 1000) + 1) * dim))], k: 10 });
    const seq: number[] = [];
    for (let i = 0; i < 500; i++) {
      const s = performance.now();
      const r = await fetch(`${hv.url}/v1/collections/${coll}/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) });
      await r.arrayBuffer();
      seq.push(performance.now() - s);
    }
    seq.sort((a, b) => a - b);

    // 3. Saturated: autocannon, every request a distinct query.
    const bodies = Array.from({ length: 1000 }, (_, i) => body(i));
    let k = 0;
    const result = await autocannon({
      url: `${hv.url}/v1/collections/${coll}/query`,
      connections: Number(values.connections),
      duration: Number(values.duration),
      requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: bodies[k++ % bodies.length] }) }],
    });

    const report = {
      machine: { cores: (await import('node:os')).availableParallelism(), node: process.version },
      data: { n, dim, metric: 'l2', k: 10, distribution: 'clustered synthetic (64 centres)' },
      upsert: { vectorsPerSecond: Math.round(n / upsertSeconds), batch, concurrency: Number(values['upsert-concurrency']), fsync: values.fsync, p50ms: pct(lat, 50), p99ms: pct(lat, 99) },
      sequentialQuery: { p50ms: pct(seq, 50), p95ms: pct(seq, 95), p99ms: pct(seq, 99) },
      saturatedQuery: {
        connections: Number(values.connections),
        seconds: Number(values.duration),
        requestsPerSecond: result.requests.average,
        p50ms: result.latency.p50,
        p99ms: result.latency.p99,
        errors: result.errors,
        non2xx: result.non2xx,
      },
    };
    console.table({
      'upserts (vectors/s, durable)': report.upsert.vectorsPerSecond,
      'query p50 ms (1 client)': report.sequentialQuery.p50ms.toFixed(2),
      'query p99 ms (1 client)': report.sequentialQuery.p99ms.toFixed(2),
      [`queries/s (${values.connections} conns)`]: report.saturatedQuery.requestsPerSecond,
      'p50 ms (saturated)': report.saturatedQuery.p50ms,
      'p99 ms (saturated)': report.saturatedQuery.p99ms,
      'errors + non-2xx': report.saturatedQuery.errors + report.saturatedQuery.non2xx,
    });
    await mkdir('load-tests/results', { recursive: true });
    const file = `load-tests/results/baseline-${n}x${dim}.json`;
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote ${file}`);
  } finally {
    await hv.stop();
    await removeDir(hv.dataDir);
  }
}

await main();
