/** Objective evaluation: burn rates, the multi-window pairs, status and budget left. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertTracker } from '../../src/metrics/alerts.js';
import { BURN_RATE_PAIRS, burnRate, firingPairs } from '../../src/metrics/burn-rate.js';
import { engaged, evaluateObjective, objectiveSpecs, worstStatus, type EventCounts, type SlaTargets } from '../../src/metrics/sla.js';
import { BURN_WINDOW_NAMES, type BurnWindow } from '../../src/metrics/windows.js';

const targets: SlaTargets = { queryP99Ms: 10, queryP95Ms: 5, errorRatio: 0.001, writeLagMs: 5000, writeLagCompliance: 0.999 };
const [p99] = objectiveSpecs(targets);

/** The same bad share in every window. */
function uniform(badShare: number, total = 1000): Record<BurnWindow, EventCounts> {
  return Object.fromEntries(BURN_WINDOW_NAMES.map((w) => [w, { bad: badShare * total, total }])) as Record<BurnWindow, EventCounts>;
}

test('burn rate is the bad share over the budget, 0 without events', () => {
  assert.equal(burnRate(10, 1000, 0.01), 1);
  assert.ok(Math.abs(burnRate(144, 1000, 0.01) - 14.4) < 1e-9);
  assert.equal(burnRate(0, 0, 0.01), 0);
});

test('a pair fires only when both of its windows burn at its rate', () => {
  const rates = { '30s': 20, '2m30s': 0, '5m': 20, '30m': 0, '1h': 0 };
  assert.deepEqual(firingPairs(rates).map((p) => p.long), ['5m']);
  assert.deepEqual(firingPairs({ ...rates, '30s': 1 }), []); // the short window has recovered: the page stops
  assert.equal(BURN_RATE_PAIRS.filter((p) => p.severity === 'page').length, 2);
});

test('objectives follow the targets: p99 allows 1 % slow queries, p95 5 %, errors their ratio, lag 1 - compliance', () => {
  const specs = objectiveSpecs(targets);
  assert.deepEqual(
    specs.map((s) => [s.name, s.target, s.budget]),
    [
      ['query_latency_p99', 10, 0.01],
      ['query_latency_p95', 5, 0.05],
      ['error_ratio', 0.001, 0.001],
      ['write_behind_lag', 5000, 1 - 0.999],
    ],
  );
});

test('status: ok within budget, warning on the ticket pair or a missed current value, breach on a page pair', () => {
  const ok = evaluateObjective(p99!, uniform(0.005), 8, 100);
  assert.equal(ok.status, 'ok');
  assert.equal(ok.burnRates['5m'], 0.5);
  assert.equal(ok.budgetRemaining, 0.5);

  const missed = evaluateObjective(p99!, uniform(0.005), 12, 100);
  assert.equal(missed.status, 'warning', 'current p99 over the target');

  const ticket = evaluateObjective(p99!, uniform(0.04), 8, 100);
  assert.equal(ticket.status, 'warning');
  assert.deepEqual(ticket.firing, ['1h & 5m ≥ 3×']);
  assert.equal(ticket.budgetRemaining, 0);

  const page = evaluateObjective(p99!, uniform(0.2), 50, 100);
  assert.equal(page.status, 'breach');
  assert.ok(page.firing.includes('5m & 30s ≥ 14.4×'));

  // Only the long window burning (the problem is over): no page.
  const over = { ...uniform(0.2), '30s': { bad: 0, total: 1000 }, '2m30s': { bad: 0, total: 1000 } };
  assert.notEqual(evaluateObjective(p99!, over, 8, 100).status, 'breach');
});

test('a minimum event count withholds pairs burning on too few events, and the current value on too few samples', () => {
  const [p99m, , errorsM, lagM] = objectiveSpecs({ ...targets, minEvents: 100 });
  assert.equal(lagM!.minEvents, 0, 'the write lag is sampled by hotvec itself: no minimum');
  assert.equal(errorsM!.minEvents, 100);

  // 1 slow query of 13 (a cold first query): 7.7x the 1 % budget in every window.
  const few = evaluateObjective(p99m!, uniform(1 / 13, 13), 40, 13);
  assert.equal(few.status, 'ok');
  assert.deepEqual(few.firing, []);
  assert.deepEqual(few.withheld, ['30m & 2m30s ≥ 6×', '1h & 5m ≥ 3×']);
  assert.equal(few.burnRates['5m'], 7.692, 'burn rates are still reported');
  assert.equal(few.minEvents, 100);

  // The same shares on enough events: the pairs fire and the missed current value counts.
  const many = evaluateObjective(p99m!, uniform(1 / 13, 130), 40, 130);
  assert.equal(many.status, 'breach');
  assert.deepEqual(many.firing, ['30m & 2m30s ≥ 6×', '1h & 5m ≥ 3×']);
  assert.deepEqual(many.withheld, []);
  assert.equal(evaluateObjective(p99m!, uniform(0, 130), 40, 99).status, 'ok', 'a current value on 99 samples');
  assert.equal(evaluateObjective(p99m!, uniform(0, 130), 40, 100).status, 'warning', 'a current value on 100 samples');

  // What fired at the previous evaluation goes on below the minimum while it burns.
  const goingOn = evaluateObjective(p99m!, uniform(1 / 13, 13), 40, 13, engaged(many));
  assert.equal(goingOn.status, 'breach');
  assert.deepEqual(goingOn.firing, ['30m & 2m30s ≥ 6×', '1h & 5m ≥ 3×']);
  assert.equal(goingOn.currentJudged, true, 'the missed current value goes on being judged');
  assert.equal(evaluateObjective(p99m!, uniform(0, 13), 40, 13, engaged(many)).status, 'warning', 'no burn: the pairs stop; the current value still misses');
  assert.equal(evaluateObjective(p99m!, uniform(0, 13), 4, 13, engaged(many)).status, 'ok');

  // The long window decides: a busy long window with a quiet short one still pages.
  const quietShort = { ...uniform(0.2, 1000), '30s': { bad: 2, total: 5 } };
  assert.ok(evaluateObjective(p99m!, quietShort, 40, 1000).firing.includes('5m & 30s ≥ 14.4×'));
  // The write lag with one sample of each second still pages.
  assert.equal(evaluateObjective(lagM!, uniform(0.5, 10), 9000, 1).status, 'breach');
});

test('no samples means ok, whatever the current value says', () => {
  assert.equal(evaluateObjective(p99!, uniform(0, 0), 0, 0).status, 'ok');
});

test('worstStatus picks the most severe', () => {
  assert.equal(worstStatus(['ok', 'warning', 'ok']), 'warning');
  assert.equal(worstStatus(['ok', 'breach', 'warning']), 'breach');
  assert.equal(worstStatus([]), 'ok');
});

test('the alert tracker emits one event per status change, with its kind', () => {
  const tracker = new AlertTracker(1);
  const at = new Date(0);
  const report = (bad: number, current: number) => [evaluateObjective(p99!, uniform(bad), current, 100)];
  assert.deepEqual(tracker.update(report(0, 1), 'ok', at), []);
  const seq = [
    [0.2, 50, 'breach', 'page'],
    [0.2, 50, null, null],
    [0.04, 8, 'warning', 'eased'],
    [0, 1, 'ok', 'resolved'],
    [0, 12, 'warning', 'ticket'],
  ] as const;
  for (const [bad, current, to, kind] of seq) {
    const events = tracker.update(report(bad, current), 'ok', at);
    if (to === null) {
      assert.deepEqual(events, []);
    } else {
      assert.equal(events.length, 1);
      assert.equal(events[0]!.to, to);
      assert.equal(events[0]!.kind, kind);
      assert.equal(events[0]!.objective, 'query_latency_p99');
    }
  }
});

test('with confirm = 3 a warning or a recovery is announced only after holding three evaluations; a breach at once', () => {
  const tracker = new AlertTracker(3);
  const at = new Date(0);
  const report = (bad: number, current: number) => [evaluateObjective(p99!, uniform(bad), current, 100)];
  const missed = report(0, 12); // warning: the current value misses the target
  const fine = report(0, 1);
  // Flapping around the target announces nothing.
  for (const r of [missed, fine, missed, missed, fine, missed]) assert.deepEqual(tracker.update(r, 'ok', at), []);
  assert.deepEqual(tracker.update(missed, 'ok', at), []);
  assert.deepEqual(
    tracker.update(missed, 'ok', at).map((e) => e.to),
    ['warning'],
  );
  assert.deepEqual(
    tracker.update(report(0.2, 50), 'ok', at).map((e) => e.to),
    ['breach'],
    'breach is not delayed',
  );
  assert.deepEqual(tracker.update(fine, 'ok', at), []);
  assert.deepEqual(tracker.update(fine, 'ok', at), []);
  assert.deepEqual(
    tracker.update(fine, 'ok', at).map((e) => [e.from, e.to, e.kind]),
    [['breach', 'ok', 'resolved']],
  );
  assert.throws(() => new AlertTracker(0), /confirm/);
});
