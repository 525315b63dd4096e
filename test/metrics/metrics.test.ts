/**
 * Metrics as the engine uses it, with a hand-driven clock: what /v1/sla reports, how the
 * windows slide, the SLA going to breach and back with alert events and topic pushes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AlertEvent } from '../../src/metrics/alerts.js';
import { Metrics, type MetricsOptions } from '../../src/metrics/metrics.js';
import type { DashboardPoint } from '../../src/metrics/history.js';
import type { SlaReport } from '../../src/metrics/report.js';
import type { SlaTargets } from '../../src/metrics/sla.js';

const TARGETS: SlaTargets = { queryP99Ms: 10, queryP95Ms: 5, errorRatio: 0.001, writeLagMs: 5000, writeLagCompliance: 0.999 };

function setup(options: Partial<MetricsOptions> = {}) {
  let now = 0;
  const m = new Metrics({ targets: TARGETS, defaultMetrics: false, now: () => now, ...options });
  const lag = { ops: 0, records: 0, oldestAgeMs: 0, state: 'healthy' };
  m.attach({ writeBehind: () => lag });
  return { m, lag, advance: (ms: number) => (now += ms) };
}

test('the report has the documented shape and counts every request by op, all transports', () => {
  const { m } = setup();
  for (let i = 0; i < 90; i++) m.observeRequest('query', 'http', 200, 0.002);
  for (let i = 0; i < 10; i++) m.observeRequest('query', 'ws', 200, 0.004);
  m.observeRequest('query', 'http', 503, 0.0001);
  m.observeRequest('upsert', 'http', 200, 0.003);
  const r = m.slaReport();
  assert.deepEqual(Object.keys(r).slice(0, 6), ['status', 'objectives', 'latency', 'writeBehind', 'generatedAt', 'stages']);
  assert.ok(!Number.isNaN(Date.parse(r.generatedAt)));
  for (const window of ['1m', '5m', '1h'] as const) {
    const q = r.latency[window].query!;
    assert.equal(q.count, 101);
    assert.equal(q.errors, 1);
    assert.ok(Math.abs(q.p50 - 2) < 0.03, `p50 ${q.p50}`);
    assert.ok(Math.abs(q.p95 - 4) < 0.05, `p95 ${q.p95}`);
    assert.equal(r.latency[window].upsert!.count, 1);
  }
  assert.deepEqual(
    r.objectives.map((o) => o.name),
    ['query_latency_p99', 'query_latency_p95', 'error_ratio', 'write_behind_lag'],
  );
  for (const o of r.objectives) {
    assert.deepEqual(Object.keys(o.burnRates), ['30s', '2m30s', '5m', '30m', '1h']);
    assert.ok(o.budgetRemaining >= 0 && o.budgetRemaining <= 1);
    assert.ok(['ok', 'warning', 'breach'].includes(o.status));
  }
  const errors = r.objectives.find((o) => o.name === 'error_ratio')!;
  assert.equal(errors.current, Number((1 / 102).toFixed(6)));
  assert.equal(errors.status, 'breach', '1 error in 102 requests burns the 0.1 % budget at 9.8x: the 6x page pair fires');
  assert.deepEqual(r.writeBehind, { ops: 0, records: 0, oldestAgeMs: 0, state: 'healthy' });
  assert.equal(r.cache, undefined, 'no cache attached');
});

test('below the minimum event count an alert does not start, and one that started goes on while it burns (no flapping at the minimum)', () => {
  const { m, advance } = setup({ targets: { ...TARGETS, queryP99Ms: 0.001, minEvents: 100 } });
  const alerts: AlertEvent[] = [];
  m.on('alert', (a) => alerts.push(a));
  const p99 = (r: SlaReport) => r.objectives.find((o) => o.name === 'query_latency_p99')!;
  const slow = (n: number): void => {
    for (let i = 0; i < n; i++) m.observeRequest('query', 'http', 200, 0.0005);
  };

  slow(60);
  let r = m.tick();
  assert.equal(p99(r).status, 'ok', '60 slow queries: too few to start');
  assert.deepEqual(p99(r).withheld, ['5m & 30s ≥ 14.4×', '30m & 2m30s ≥ 6×', '1h & 5m ≥ 3×']);
  assert.equal(p99(r).currentJudged, false);
  assert.equal(alerts.length, 0);

  advance(28 * 60_000);
  m.tick(); // the windows slide on evaluations (every second in the engine)
  slow(60);
  r = m.tick();
  assert.equal(p99(r).status, 'breach', '120 in the 30-min window: the 30m pair starts');
  assert.deepEqual(p99(r).firing, ['30m & 2m30s ≥ 6×', '1h & 5m ≥ 3×']);
  assert.deepEqual(p99(r).withheld, ['5m & 30s ≥ 14.4×'], 'only 60 in the 5-min window');
  assert.deepEqual([alerts.at(-1)!.to, alerts.at(-1)!.withheld], ['breach', ['5m & 30s ≥ 14.4×']]);

  // The first 60 leave the 30-min window: 60 events, fewer than the minimum, still burning.
  advance(2 * 60_000 + 10_000);
  for (let i = 0; i < 10; i++) {
    r = m.tick();
    assert.equal(p99(r).status, 'breach', `tick ${i}: a started page goes on while its pair burns`);
    assert.ok(p99(r).firing.includes('30m & 2m30s ≥ 6×'));
    advance(1000);
  }
  assert.equal(alerts.length, 1, 'one page, no resolve and page again');
  assert.equal(m.slaReport().status, 'breach', 'GET /v1/sla sees the same');

  // Once the short window stops burning the pair stops, and then needs the minimum again.
  advance(3 * 60_000);
  for (let i = 0; i < 6; i++) {
    r = m.tick();
    advance(1000);
  }
  assert.notEqual(p99(r).status, 'breach');
  m.tick();
  slow(20);
  assert.equal(p99(m.tick()).firing.includes('5m & 30s ≥ 14.4×'), false, '20 new slow queries do not restart the page');
});

test('windows slide: the 1m window forgets after a minute, 5m after five, 1h keeps them', () => {
  const { m, advance } = setup();
  for (let i = 0; i < 50; i++) m.observeRequest('get', 'http', 200, 0.001);
  advance(65_000);
  let r = m.slaReport();
  assert.equal(r.latency['1m'].get, undefined);
  assert.equal(r.latency['5m'].get!.count, 50);
  advance(5 * 60_000);
  r = m.slaReport();
  assert.equal(r.latency['5m'].get, undefined);
  assert.equal(r.latency['1h'].get!.count, 50);
  advance(60 * 60_000);
  r = m.slaReport();
  assert.equal(r.latency['1h'].get, undefined);
});

test('an impossible latency target breaches, alerts once, and recovers when the slow queries age out', () => {
  const { m, advance } = setup({ targets: { ...TARGETS, queryP99Ms: 0.001 } });
  const alerts: AlertEvent[] = [];
  m.on('alert', (a) => alerts.push(a));
  m.tick();
  assert.equal(alerts.length, 0);
  for (let i = 0; i < 20; i++) m.observeRequest('query', 'http', 200, 0.0005);
  let r = m.tick();
  assert.equal(r.status, 'breach');
  const p99 = r.objectives.find((o) => o.name === 'query_latency_p99')!;
  assert.equal(p99.burnRates['30s'], 100);
  assert.deepEqual(p99.firing, ['5m & 30s ≥ 14.4×', '30m & 2m30s ≥ 6×', '1h & 5m ≥ 3×']);
  assert.equal(alerts.length, 1);
  assert.deepEqual([alerts[0]!.objective, alerts[0]!.from, alerts[0]!.to, alerts[0]!.kind], ['query_latency_p99', 'ok', 'breach', 'page']);
  m.tick();
  assert.equal(alerts.length, 1, 'no new event while the status holds');
  // No more queries: the short windows empty first (the pages stop; the 5m & 1h ticket
  // pair still burns), then the 5m window empties too and the hour alone alerts nobody.
  // A move other than to breach is announced once it has held for 5 s (5 ticks).
  const ticks = (n: number): SlaReport => {
    let last = m.tick();
    for (let i = 1; i < n; i++) {
      advance(1000);
      last = m.tick();
    }
    return last;
  };
  advance(3 * 60_000);
  r = ticks(5);
  assert.equal(r.objectives.find((o) => o.name === 'query_latency_p99')!.status, 'warning');
  advance(3 * 60_000);
  r = ticks(4);
  assert.equal(r.status, 'ok');
  assert.equal(alerts.length, 2, 'the recovery waits for its fifth evaluation');
  r = ticks(1);
  assert.ok(r.objectives.find((o) => o.name === 'query_latency_p99')!.budgetRemaining === 0, 'the hour still shows the spent budget');
  assert.deepEqual(
    alerts.map((a) => [a.to, a.kind]),
    [
      ['breach', 'page'],
      ['warning', 'eased'],
      ['ok', 'resolved'],
    ],
  );
});

test('write-behind lag over its target burns the lag budget, sampled once per tick', () => {
  const { m, lag, advance } = setup();
  lag.oldestAgeMs = 9000;
  lag.ops = 3;
  let r: SlaReport | undefined;
  for (let i = 0; i < 40; i++) {
    r = m.tick();
    advance(1000);
  }
  const o = r!.objectives.find((x) => x.name === 'write_behind_lag')!;
  assert.equal(o.current, 9000);
  assert.equal(o.status, 'breach');
  assert.equal(o.burnRates['30s'], 1000, 'every sample bad: share 1 over a 0.1 % budget');
  lag.oldestAgeMs = 10;
  advance(60 * 60_000);
  assert.equal(m.tick().objectives.find((x) => x.name === 'write_behind_lag')!.status, 'ok');
});

test('subscribers get the history at once, then a snapshot per tick and alerts; unsubscribing stops them', () => {
  const { m, advance } = setup({ targets: { ...TARGETS, queryP99Ms: 0.001 } });
  m.tick();
  const got: { event: string; data: unknown }[] = [];
  const unsubscribe = m.subscribe((event, data) => got.push({ event, data }));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.event, 'history');
  const history = got[0]!.data as { points: DashboardPoint[]; targets: SlaTargets };
  assert.equal(history.points.length, 1);
  assert.equal(history.targets.queryP99Ms, 0.001);

  for (let i = 0; i < 30; i++) m.observeRequest('query', 'http', 200, 0.003);
  advance(1000);
  m.tick();
  assert.deepEqual(
    got.slice(1).map((g) => g.event),
    ['alert', 'snapshot'],
  );
  const snap = got[2]!.data as { report: SlaReport; point: DashboardPoint };
  assert.equal(snap.report.status, 'breach');
  assert.equal(snap.point.status, 'breach');
  assert.ok(snap.point.queriesPerSec > 0);
  assert.ok(Math.abs(snap.point.p99 - 3) < 0.03, `p99 ${snap.point.p99}`);

  unsubscribe();
  m.tick();
  assert.equal(got.length, 3);

  // A subscriber that throws is dropped, and the others still get their pushes.
  const ok: string[] = [];
  m.subscribe(() => {
    throw new Error('gone');
  });
  m.subscribe((event) => ok.push(event));
  m.tick();
  m.tick();
  assert.deepEqual(ok, ['history', 'snapshot', 'snapshot']);
});

test('pool, WAL and cache figures show up in the report', () => {
  const { m } = setup();
  let hits = 0;
  m.attach({ cache: () => ({ hits, misses: 10, bytes: 100, entries: 2 }) });
  hits = 30;
  m.observePoolTask(0.001, 0.0002);
  m.observeWalSync({ records: 3, bytes: 300, seconds: 0.004 });
  const r = m.tick();
  assert.equal(r.stages['1m'].pool_queue_wait!.count, 1);
  assert.ok(Math.abs(r.stages['1m'].pool_queue_wait!.p50 - 1) < 0.02);
  assert.ok(Math.abs(r.stages['1m'].pool_run!.p50 - 0.2) < 0.01);
  assert.ok(Math.abs(r.stages['1m'].wal_sync!.p99 - 4) < 0.05);
  assert.deepEqual(r.cache, { hitRatio: 0.75, hits: 30, misses: 10 });
});

test('invalid targets are refused', () => {
  assert.throws(() => new Metrics({ targets: { ...TARGETS, queryP99Ms: 0 }, defaultMetrics: false }), /queryP99Ms/);
  assert.throws(() => new Metrics({ targets: { ...TARGETS, writeLagCompliance: 1 }, defaultMetrics: false }), /writeLagCompliance/);
  assert.throws(() => new Metrics({ targets: { ...TARGETS, minEvents: -1 }, defaultMetrics: false }), /minEvents/);
  assert.throws(() => new Metrics({ targets: { ...TARGETS, minEvents: 1.5 }, defaultMetrics: false }), /minEvents/);
});
