/**
 * The observability surface of a real engine process: /v1/sla counts what was sent, /metrics
 * parses with a Prometheus text parser, WebSocket clients subscribe to SLA pushes, and an
 * impossible target turns the SLA to breach with an alert on the socket, the webhook and the log.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { AlertEvent } from '../../src/metrics/alerts.js';
import type { DashboardPoint } from '../../src/metrics/history.js';
import type { SlaReport } from '../../src/metrics/report.js';
import { startTestChroma } from '../helpers/chroma.js';
import { call, randomVectors, removeDir, startHotvec, type Hotvec } from '../helpers/hotvec.js';
import { parsePrometheus, select } from '../metrics/prometheus-text.js';
import { SlaSubscriber } from '../metrics/sla-subscriber.js';

const DIM = 16;
let chroma: Awaited<ReturnType<typeof startTestChroma>>;
let hv: Hotvec;
let breach: Hotvec;
let hook: Server;
const hooked: AlertEvent[] = [];

// What the load below sends to `hv`, to compare with what it reports.
const HTTP_QUERIES = 40;
const WS_QUERIES = 25;
const GETS = 3;

before(async () => {
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      hooked.push(JSON.parse(Buffer.concat(chunks).toString()) as AlertEvent);
      res.writeHead(204).end();
    });
  });
  hook.listen(0, '127.0.0.1');
  await once(hook, 'listening');
  const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
  chroma = await startTestChroma();
  [hv, breach] = await Promise.all([
    startHotvec({ chromaUrl: chroma.url, args: ['--sla-interval-ms', '200'] }),
    startHotvec({ chromaUrl: chroma.url, args: ['--sla-query-p99-ms', '0.001', '--sla-interval-ms', '200', '--sla-webhook-url', hookUrl] }),
  ]);

  await call(hv.url, 'POST', '/v1/collections', { name: 'obs', dimension: DIM });
  const vectors = randomVectors(200, DIM, 7);
  await call(hv.url, 'POST', '/v1/collections/obs/upsert', { ids: vectors.map((_, i) => `v${i}`), embeddings: vectors });
  for (let i = 0; i < HTTP_QUERIES; i++) {
    const r = await call(hv.url, 'POST', '/v1/collections/obs/query', { embeddings: [vectors[i]], k: 5 });
    assert.equal(r.status, 200);
  }
  for (let i = 0; i < GETS; i++) await call(hv.url, 'POST', '/v1/collections/obs/get', { ids: [`v${i}`] });
  assert.equal((await call(hv.url, 'POST', '/v1/collections/missing/query', { embeddings: [vectors[0]] })).status, 404);
  const sub = await SlaSubscriber.connect(hv.url);
  for (let i = 0; i < WS_QUERIES; i++) sub.send({ id: i, op: 'query', collection: 'obs', embeddings: [vectors[100 + i]], k: 3 });
  await sub.waitFor(() => sub.messages.filter((m) => m.id !== undefined && m.result !== undefined).length === WS_QUERIES, 'all WebSocket answers');
  sub.close();
});

after(async () => {
  await Promise.all([hv?.stop(), breach?.stop()]);
  await Promise.all([removeDir(hv?.dataDir ?? ''), removeDir(breach?.dataDir ?? '')]);
  await chroma?.close();
  await new Promise<void>((resolve) => hook?.close(() => resolve()) ?? resolve());
});

test('GET /v1/sla has the documented shape and counts the requests sent, per operation, all transports', async () => {
  const { status, body } = await call<SlaReport>(hv.url, 'GET', '/v1/sla');
  assert.equal(status, 200);
  assert.ok(['ok', 'warning', 'breach'].includes(body.status));
  assert.ok(!Number.isNaN(Date.parse(body.generatedAt)));
  assert.deepEqual(
    body.objectives.map((o) => o.name),
    ['query_latency_p99', 'query_latency_p95', 'error_ratio', 'write_behind_lag'],
  );
  for (const o of body.objectives) {
    for (const key of ['name', 'description', 'target', 'status', 'current', 'burnRates', 'budgetRemaining'] as const) assert.ok(key in o, `${o.name} lacks ${key}`);
    assert.deepEqual(Object.keys(o.burnRates), ['30s', '2m30s', '5m', '30m', '1h']);
  }
  assert.deepEqual(
    body.objectives.map((o) => o.target),
    [10, 5, 0.001, 5000],
  );
  for (const window of ['1m', '5m', '1h'] as const) {
    const q = body.latency[window].query!;
    // Both transports; the 404 is an answer too (only 5xx count as errors).
    assert.equal(q.count, HTTP_QUERIES + WS_QUERIES + 1, `${window} query count`);
    assert.equal(q.errors, 0);
    assert.ok(q.p50 > 0 && q.p50 <= q.p95 && q.p95 <= q.p99 && q.p99 <= q.p999, JSON.stringify(q));
    assert.equal(body.latency[window].get!.count, GETS);
    assert.equal(body.latency[window].upsert!.count, 1);
    assert.equal(body.latency[window].create_collection!.count, 1);
  }
  assert.deepEqual(Object.keys(body.writeBehind).sort(), ['oldestAgeMs', 'ops', 'records', 'state']);
  assert.ok(['healthy', 'retrying', 'down'].includes(body.writeBehind.state));
  if (body.cache) {
    assert.equal(typeof body.cache.hitRatio, 'number');
    assert.equal(body.cache.hits + body.cache.misses > 0, true);
  }
  assert.ok(body.stages['5m'].pool_run!.count > 0, 'pool run time measured');
  assert.ok(body.stages['5m'].pool_queue_wait!.count > 0, 'pool queue wait measured');
  assert.ok(body.stages['5m'].wal_sync!.count > 0, 'WAL syncs measured');
  assert.ok(body.process.rssBytes > 0 && body.process.indexSharedBytes > 0);
});

test('GET /metrics parses with a Prometheus text parser and agrees with what was sent', async () => {
  const res = await fetch(`${hv.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const { families, samples } = parsePrometheus(await res.text());

  assert.equal(families.get('hotvec_request_duration_seconds')?.type, 'HISTOGRAM');
  const count = (labels: Record<string, string>): number => select(samples, 'hotvec_request_duration_seconds_count', labels).reduce((a, s) => a + s.value, 0);
  assert.equal(count({ op: 'query', transport: 'http', status: '200' }), HTTP_QUERIES);
  assert.equal(count({ op: 'query', transport: 'http', status: '404' }), 1);
  assert.equal(count({ op: 'query', transport: 'ws', status: '200' }), WS_QUERIES);
  assert.equal(count({ op: 'get', transport: 'http' }), GETS);

  // A bucket boundary at each SLA latency target (5 ms and 10 ms), and well-formed histograms.
  const bounds = new Set(select(samples, 'hotvec_request_duration_seconds_bucket', { op: 'query', transport: 'http', status: '200' }).map((s) => s.labels.le));
  assert.ok(bounds.has('0.005') && bounds.has('0.01') && bounds.has('+Inf'), [...bounds].join(' '));
  for (const [name, f] of families) {
    assert.match(name, /^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    if (f.type !== 'HISTOGRAM') continue;
    const series = new Map<string, number[]>();
    for (const s of select(samples, `${name}_bucket`)) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      if (!series.has(key)) series.set(key, []);
      series.get(key)!.push(le === '+Inf' ? Infinity : Number(le), s.value);
    }
    for (const [key, flat] of series) {
      for (let i = 2; i < flat.length; i += 2) {
        assert.ok(flat[i]! > flat[i - 2]!, `${name}${key}: bounds ascend`);
        assert.ok(flat[i + 1]! >= flat[i - 1]!, `${name}${key}: buckets are cumulative`);
      }
      assert.equal(flat[flat.length - 2], Infinity, `${name}${key}: ends with +Inf`);
      const total = select(samples, `${name}_count`, JSON.parse(key) as Record<string, string>).find((s) => Object.keys(s.labels).length === Object.keys(JSON.parse(key) as object).length);
      assert.equal(flat[flat.length - 1], total?.value, `${name}${key}: +Inf bucket = count`);
    }
  }

  // Conventional units and the default process metrics.
  for (const [name, type] of [
    ['hotvec_pool_queue_wait_seconds', 'HISTOGRAM'],
    ['hotvec_pool_run_seconds', 'HISTOGRAM'],
    ['hotvec_wal_sync_duration_seconds', 'HISTOGRAM'],
    ['hotvec_wal_synced_bytes_total', 'COUNTER'],
    ['hotvec_write_behind_oldest_age_seconds', 'GAUGE'],
    ['hotvec_index_shared_bytes', 'GAUGE'],
    ['hotvec_cache_hit_ratio', 'GAUGE'],
    ['hotvec_sla_burn_rate', 'GAUGE'],
    ['process_resident_memory_bytes', 'GAUGE'],
    ['nodejs_eventloop_lag_p99_seconds', 'GAUGE'],
  ] as const) {
    assert.equal(families.get(name)?.type, type, name);
  }
  assert.ok(select(samples, 'process_resident_memory_bytes')[0]!.value > 0);
  assert.ok(select(samples, 'hotvec_index_shared_bytes')[0]!.value > 0);
  assert.ok(select(samples, 'hotvec_pool_run_seconds_count')[0]!.value > 0);
  assert.ok(select(samples, 'hotvec_wal_sync_duration_seconds_count')[0]!.value > 0);
  assert.equal(select(samples, 'hotvec_write_behind_state', { state: 'healthy' })[0]!.value, 1);
  assert.equal(select(samples, 'hotvec_sla_status', { objective: 'error_ratio' })[0]!.value, 0);
});

test('the dashboard page and its scripts are served; nothing else under /dashboard', async () => {
  for (const [path, type] of [
    ['/dashboard', 'text/html'],
    ['/dashboard/', 'text/html'],
    ['/dashboard/app.js', 'text/javascript'],
    ['/dashboard/charts.js', 'text/javascript'],
    ['/dashboard/style.css', 'text/css'],
  ] as const) {
    const r = await fetch(`${hv.url}${path}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', new RegExp(`^${type}`), path);
    assert.ok((await r.text()).length > 100, path);
  }
  for (const path of ['/dashboard/nope.js', '/dashboard/%2e%2e%2fpackage.json']) {
    assert.equal((await fetch(`${hv.url}${path}`)).status, 404, path);
  }
});

test('observability routes answer only GET', async () => {
  for (const path of ['/metrics', '/v1/sla', '/dashboard']) {
    const r = await fetch(`${hv.url}${path}`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 405, path);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'HOTVEC_METHOD_NOT_ALLOWED');
  }
});

test('a WebSocket subscriber gets the confirmation, the history, then live snapshots; unknown topics are refused', async () => {
  const sub = await SlaSubscriber.connect(hv.url);
  try {
    sub.send({ id: 'bad', op: 'subscribe', topic: 'nope' });
    const bad = await sub.waitFor((m) => m.id === 'bad', 'the refusal');
    assert.equal(bad.error?.code, 'HOTVEC_INVALID_ARGUMENT');

    sub.send({ id: 's', op: 'subscribe', topic: 'sla' });
    await sub.waitFor((m) => m.event === 'snapshot', 'a snapshot');
    // (Alerts may come in between: a cold start can put the first queries over 10 ms.)
    const order = sub.messages.filter((m) => m.id === 's' || (m.topic === 'sla' && m.event !== 'alert')).map((m) => (m.id === 's' ? 'confirmed' : m.event));
    assert.deepEqual(order.slice(0, 3), ['confirmed', 'history', 'snapshot']);
    assert.deepEqual(sub.messages.find((m) => m.id === 's')?.result, { subscribed: 'sla' });
    const history = sub.messages.find((m) => m.event === 'history')!.data as { points: DashboardPoint[]; targets: { queryP99Ms: number } };
    assert.ok(history.points.length > 0);
    assert.equal(history.targets.queryP99Ms, 10);
    const snap = sub.messages.find((m) => m.event === 'snapshot')!.data as { report: SlaReport; point: DashboardPoint };
    assert.equal(snap.report.latency['5m'].query!.count, HTTP_QUERIES + WS_QUERIES + 1);
    assert.ok(snap.point.p99 > 0);

    sub.send({ id: 'u', op: 'unsubscribe', topic: 'sla' });
    await sub.waitFor((m) => m.id === 'u', 'the unsubscribe answer');
    const n = sub.messages.length;
    await new Promise((r) => setTimeout(r, 600)); // three evaluation intervals
    assert.equal(sub.messages.length, n, 'no pushes after unsubscribing');
  } finally {
    sub.close();
  }
});

test('an impossible target (--sla-query-p99-ms 0.001) breaches once 100 queries were answered (--sla-min-events): /v1/sla, a WebSocket alert, the webhook and the log', async () => {
  await call(breach.url, 'POST', '/v1/collections', { name: 'obs_breach', dimension: DIM });
  const vectors = randomVectors(20, DIM, 9);
  await call(breach.url, 'POST', '/v1/collections/obs_breach/upsert', { ids: vectors.map((_, i) => `b${i}`), embeddings: vectors });
  const sub = await SlaSubscriber.connect(breach.url);
  try {
    sub.send({ id: 1, op: 'subscribe', topic: 'sla' });
    await sub.waitFor((m) => m.event === 'history', 'the history');
    for (let i = 0; i < 20; i++) await call(breach.url, 'POST', '/v1/collections/obs_breach/query', { embeddings: [vectors[i]], k: 2 });
    // 20 queries are fewer than the default --sla-min-events (100): the pairs burn but are withheld.
    const early = (await call<SlaReport>(breach.url, 'GET', '/v1/sla')).body.objectives.find((o) => o.name === 'query_latency_p99')!;
    assert.equal(early.status, 'ok');
    assert.equal(early.minEvents, 100);
    assert.deepEqual(early.firing, []);
    assert.ok(early.withheld.includes('5m & 30s ≥ 14.4×'), early.withheld.join());
    assert.equal(early.burnRates['30s'], 100);
    for (let i = 20; i < 110; i++) await call(breach.url, 'POST', '/v1/collections/obs_breach/query', { embeddings: [vectors[i % vectors.length]], k: 2 });

    const alert = (await sub.waitFor((m) => m.event === 'alert' && (m.data as AlertEvent).to === 'breach', 'a breach alert')).data as AlertEvent;
    assert.equal(alert.objective, 'query_latency_p99');
    assert.equal(alert.from, 'ok');
    assert.equal(alert.kind, 'page');
    assert.equal(alert.target, 0.001);
    assert.ok(alert.firing.includes('5m & 30s ≥ 14.4×'), alert.firing.join());

    const { body } = await call<SlaReport>(breach.url, 'GET', '/v1/sla');
    assert.equal(body.status, 'breach');
    const p99 = body.objectives.find((o) => o.name === 'query_latency_p99')!;
    assert.equal(p99.status, 'breach');
    assert.equal(p99.burnRates['30s'], 100, 'every query is over 1 µs: bad share 1 over a 1 % budget');
    assert.equal(p99.budgetRemaining, 0);

    const deadline = Date.now() + 20_000;
    while (!hooked.some((a) => a.to === 'breach') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const posted = hooked.find((a) => a.to === 'breach');
    assert.equal(posted?.objective, 'query_latency_p99', 'the webhook got the alert');

    // The transition is logged (the line may still be in the pipe when the webhook arrives).
    await breach.waitForLog(/SLA query_latency_p99 ok → breach/);
  } finally {
    sub.close();
  }
});
