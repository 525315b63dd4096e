/**
 * Service-level objectives and their evaluation. Every objective is a share of good events
 * with an error budget (the share allowed to be bad):
 *
 *   query_latency_p99   a query answers within queryP99Ms      budget 1 %  (p99 ≤ target ⇔ ≤ 1 % slower)
 *   query_latency_p95   a query answers within queryP95Ms      budget 5 %
 *   error_ratio         a request is not answered with a 5xx  budget errorRatio
 *   write_behind_lag    a 1-s sample of the oldest write not   budget 1 − writeLagCompliance
 *                       yet in Chroma is within writeLagMs
 *
 * Status: `breach` while a page pair burns (burn-rate.ts), `warning` while the ticket pair
 * burns or the current value (5-min percentile, 5-min error ratio, lag now) misses its
 * target, `ok` otherwise. The budget period is the hour hotvec keeps: the budget left is
 * 1 − the 1-hour burn rate.
 *
 * Low traffic (the SRE workbook's "low-traffic services"): on a handful of events one slow
 * answer is a large bad share, so the request objectives have a minimum event count — a pair
 * starts firing only when its long window holds at least `minEvents` events, and the 5-min
 * current value starts being judged only on at least `minEvents` samples. What was already
 * alerting at the previous evaluation (`Engaged`) goes on until it no longer burns or misses,
 * whatever the count: windows lose a whole 10-s slot at a time, so a count hovering at the
 * minimum would otherwise page and resolve every few seconds. A pair that burns at its rate on
 * too few events to start is reported as `withheld`. The write lag is sampled by hotvec itself
 * once per evaluation, whatever the traffic, so it has no minimum.
 */
import { BURN_RATE_PAIRS, burnRate, describePair, firingPairs } from './burn-rate.js';
import { BURN_WINDOW_NAMES, type BurnWindow } from './windows.js';

export type SlaStatus = 'ok' | 'warning' | 'breach';

export interface SlaTargets {
  /** 99 % of queries answer within this (ms). */
  queryP99Ms: number;
  /** 95 % of queries answer within this (ms). */
  queryP95Ms: number;
  /** Largest share of requests answered with a server error (5xx), 0..1. */
  errorRatio: number;
  /** Largest age of the oldest write not yet in Chroma (ms). */
  writeLagMs: number;
  /** Share of the time the write lag must be within `writeLagMs`, 0..1. */
  writeLagCompliance: number;
  /** Fewest events in a pair's long window (and samples behind a 5-min current value) before a request objective starts alerting; 0 when absent (the engine passes `--sla-min-events`, default 100). */
  minEvents?: number;
}

export type ObjectiveName = 'query_latency_p99' | 'query_latency_p95' | 'error_ratio' | 'write_behind_lag';

export interface ObjectiveSpec {
  name: ObjectiveName;
  description: string;
  unit: 'ms' | 'ratio';
  target: number;
  /** Share of events allowed to be bad. */
  budget: number;
  /** The window `current` is measured over. */
  currentWindow: '5m' | 'now';
  /** Fewest events in a pair's long window, and samples behind `current`, before the objective may alert. */
  minEvents: number;
}

export function objectiveSpecs(t: SlaTargets): ObjectiveSpec[] {
  const pct = (x: number): string => `${Number((x * 100).toPrecision(4))}%`;
  const minEvents = t.minEvents ?? 0;
  return [
    { name: 'query_latency_p99', description: `99% of queries answer within ${t.queryP99Ms} ms (p99 ≤ ${t.queryP99Ms} ms)`, unit: 'ms', target: t.queryP99Ms, budget: 0.01, currentWindow: '5m', minEvents },
    { name: 'query_latency_p95', description: `95% of queries answer within ${t.queryP95Ms} ms (p95 ≤ ${t.queryP95Ms} ms)`, unit: 'ms', target: t.queryP95Ms, budget: 0.05, currentWindow: '5m', minEvents },
    { name: 'error_ratio', description: `at most ${pct(t.errorRatio)} of requests fail with a server error (5xx)`, unit: 'ratio', target: t.errorRatio, budget: t.errorRatio, currentWindow: '5m', minEvents },
    {
      name: 'write_behind_lag',
      description: `the oldest write not yet in Chroma is younger than ${t.writeLagMs} ms, ${pct(t.writeLagCompliance)} of the time`,
      unit: 'ms',
      target: t.writeLagMs,
      budget: 1 - t.writeLagCompliance,
      currentWindow: 'now',
      minEvents: 0,
    },
  ];
}

/** Bad and total events of one objective in one window. */
export interface EventCounts {
  bad: number;
  total: number;
}

export interface ObjectiveReport {
  name: ObjectiveName;
  description: string;
  target: number;
  unit: 'ms' | 'ratio';
  status: SlaStatus;
  /** The measured value in `unit` over `window` (0 without samples). */
  current: number;
  window: '5m' | 'now';
  /** Events `current` was measured on. */
  samples: number;
  burnRates: Record<BurnWindow, number>;
  /** Share of the one-hour error budget left, 0..1. */
  budgetRemaining: number;
  /** The burn-rate pairs firing now, e.g. "5m & 30s ≥ 14.4×". */
  firing: string[];
  /** Pairs whose windows burn at their rate but whose long window holds too few events (`minEvents`) to start firing. */
  withheld: string[];
  /** Fewest events before the objective starts alerting (`--sla-min-events`; 0 for the write lag). */
  minEvents: number;
  /** Whether `current` was judged against the target: it has samples, and at least `minEvents` of them (or it already missed at the previous evaluation). */
  currentJudged: boolean;
}

/** What alerted at the previous evaluation: it goes on alerting while it still burns or misses, whatever the event count. */
export interface Engaged {
  /** The pairs that fired (as in `firing`). */
  pairs: readonly string[];
  /** The current value was judged and missed the target. */
  current: boolean;
}

const NOT_ENGAGED: Engaged = { pairs: [], current: false };

/** What of a report goes on alerting at the next evaluation whatever the event count. */
export function engaged(o: ObjectiveReport): Engaged {
  return { pairs: o.firing, current: o.currentJudged && o.current > o.target };
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

export function evaluateObjective(
  spec: ObjectiveSpec,
  counts: Readonly<Record<BurnWindow, EventCounts>>,
  current: number,
  samples: number,
  before: Engaged = NOT_ENGAGED,
): ObjectiveReport {
  const burnRates = {} as Record<BurnWindow, number>;
  for (const w of BURN_WINDOW_NAMES) burnRates[w] = round(burnRate(counts[w].bad, counts[w].total, spec.budget), 3);
  const burning = firingPairs(burnRates, BURN_RATE_PAIRS);
  const firing = burning.filter((p) => counts[p.long].total >= spec.minEvents || before.pairs.includes(describePair(p)));
  const withheld = burning.filter((p) => !firing.includes(p));
  const currentJudged = samples > 0 && (samples >= spec.minEvents || before.current);
  const missed = currentJudged && current > spec.target;
  const status: SlaStatus = firing.some((p) => p.severity === 'page') ? 'breach' : firing.length > 0 || missed ? 'warning' : 'ok';
  return {
    name: spec.name,
    description: spec.description,
    target: spec.target,
    unit: spec.unit,
    status,
    current: spec.unit === 'ratio' ? round(current, 6) : round(current, 3),
    window: spec.currentWindow,
    samples,
    burnRates,
    budgetRemaining: round(Math.max(0, Math.min(1, 1 - burnRates['1h'])), 4),
    firing: firing.map(describePair),
    withheld: withheld.map(describePair),
    minEvents: spec.minEvents,
    currentJudged,
  };
}

const RANK: Record<SlaStatus, number> = { ok: 0, warning: 1, breach: 2 };

export function worstStatus(statuses: Iterable<SlaStatus>): SlaStatus {
  let worst: SlaStatus = 'ok';
  for (const s of statuses) if (RANK[s] > RANK[worst]) worst = s;
  return worst;
}

export const statusRank = (s: SlaStatus): number => RANK[s];
