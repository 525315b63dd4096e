/**
 * Turns what the Recorder holds into the SLA report (`GET /v1/sla`, the pushed snapshots)
 * and the dashboard's point: window percentiles per operation and stage, each objective's
 * bad/total events per burn window, its current value and status.
 */
import { percentilesMs } from './hdr.js';
import type { DashboardPoint } from './history.js';
import { LAG_BAD, LAG_SAMPLES, QUERY_P95, QUERY_P99, type Recorder } from './recorder.js';
import type { OpLatency, SlaReport, StageName, WriteBehindState } from './report.js';
import { ERRORS, OVER, REQUESTS } from './request-series.js';
import { evaluateObjective, worstStatus, type Engaged, type EventCounts, type ObjectiveName, type ObjectiveReport, type ObjectiveSpec } from './sla.js';
import type { CacheStats, MetricsSources } from './sources.js';
import { BURN_WINDOWS, BURN_WINDOW_NAMES, LATENCY_WINDOWS, LATENCY_WINDOW_NAMES, type BurnWindow, type LatencyWindow } from './windows.js';

export interface EvaluationInputs {
  recorder: Recorder;
  specs: readonly ObjectiveSpec[];
  sources: MetricsSources;
  eventLoopDelayP99Ms: number;
  /** What alerted at the previous evaluation (sla.ts, `Engaged`). */
  engaged: ReadonlyMap<ObjectiveName, Engaged>;
}

export function buildReport(inputs: EvaluationInputs, wb: WriteBehindState | undefined): SlaReport {
  const { recorder, sources } = inputs;
  const scratch = recorder.hist.take();
  try {
    const latency = {} as SlaReport['latency'];
    const stages = {} as SlaReport['stages'];
    for (const window of LATENCY_WINDOW_NAMES) {
      const byOp: Record<string, OpLatency> = {};
      for (const [op, pair] of recorder.requests) {
        const sums = recorder.sumPair(pair, LATENCY_WINDOWS[window]);
        if (sums[REQUESTS] === 0) continue;
        scratch.reset();
        for (const s of pair) s.latency.addTo(window, scratch);
        const p = percentilesMs(scratch);
        byOp[op] = { count: sums[REQUESTS]!, errors: sums[ERRORS]!, p50: p.p50, p95: p.p95, p99: p.p99, p999: p.p999 };
      }
      latency[window] = byOp;
      const st: SlaReport['stages'][LatencyWindow] = {};
      for (const [name, stage] of Object.entries(recorder.stages) as [StageName, Recorder['stages'][StageName]][]) {
        scratch.reset();
        stage.latency.addTo(window, scratch);
        if (scratch.totalCount > 0) st[name] = percentilesMs(scratch);
      }
      stages[window] = st;
    }

    const objectives = inputs.specs.map((spec) => objective(recorder, spec, latency['5m'], wb, inputs.engaged.get(spec.name)));
    const index = sources.index?.();
    const report: SlaReport = {
      status: worstStatus(objectives.map((o) => o.status)),
      objectives,
      latency,
      writeBehind: wb ? { ops: wb.ops, records: wb.records, oldestAgeMs: Math.round(wb.oldestAgeMs), state: wb.state } : { ops: 0, records: 0, oldestAgeMs: 0, state: 'unknown' },
      generatedAt: new Date().toISOString(),
      stages,
      throughput: recorder.rates().byOp,
      process: {
        rssBytes: process.memoryUsage.rss(),
        eventLoopDelayP99Ms: Math.round(inputs.eventLoopDelayP99Ms * 1000) / 1000,
        indexSharedBytes: index?.sharedBytes ?? 0,
        indexUsedBytes: index?.usedBytes ?? 0,
      },
    };
    const cache = sources.cache?.();
    if (cache) {
      const lookups = cache.hits + cache.misses;
      report.cache = { hitRatio: lookups > 0 ? Math.round((cache.hits / lookups) * 1e4) / 1e4 : 0, hits: cache.hits, misses: cache.misses };
    }
    return report;
  } finally {
    recorder.hist.give(scratch);
  }
}

function objective(recorder: Recorder, spec: ObjectiveSpec, latency5m: Record<string, OpLatency>, wb: WriteBehindState | undefined, before: Engaged | undefined): ObjectiveReport {
  const counts = {} as Record<BurnWindow, EventCounts>;
  let current = 0;
  let samples = 0;
  switch (spec.name) {
    case 'query_latency_p99':
    case 'query_latency_p95': {
      const column = OVER + (spec.name === 'query_latency_p99' ? QUERY_P99 : QUERY_P95);
      const pair = recorder.requests.get('query');
      for (const w of BURN_WINDOW_NAMES) {
        const sums = pair ? recorder.sumPair(pair, BURN_WINDOWS[w]) : undefined;
        // Latency is judged on answered queries: 5xx count against the error objective instead.
        counts[w] = sums ? { bad: sums[column]!, total: sums[REQUESTS]! - sums[ERRORS]! } : { bad: 0, total: 0 };
      }
      const q = latency5m.query;
      samples = q ? q.count - q.errors : 0;
      current = q && samples > 0 ? (spec.name === 'query_latency_p99' ? q.p99 : q.p95) : 0;
      break;
    }
    case 'error_ratio': {
      for (const w of BURN_WINDOW_NAMES) {
        let bad = 0;
        let total = 0;
        for (const pair of recorder.requests.values()) {
          const sums = recorder.sumPair(pair, BURN_WINDOWS[w]);
          bad += sums[ERRORS]!;
          total += sums[REQUESTS]!;
        }
        counts[w] = { bad, total };
      }
      samples = counts['5m'].total;
      current = samples > 0 ? counts['5m'].bad / samples : 0;
      break;
    }
    case 'write_behind_lag': {
      for (const w of BURN_WINDOW_NAMES) {
        const sums = recorder.lag.sum(BURN_WINDOWS[w]);
        counts[w] = { bad: sums[LAG_BAD]!, total: sums[LAG_SAMPLES]! };
      }
      samples = wb ? 1 : 0;
      current = wb ? wb.oldestAgeMs : 0;
      break;
    }
  }
  return evaluateObjective(spec, counts, current, samples, before);
}

/** The dashboard's point for a report; the hit ratio is over the lookups since `previousCache`. */
export function dashboardPoint(report: SlaReport, errorsPerSec: number, cache: CacheStats | undefined, previousCache: CacheStats | undefined): DashboardPoint {
  const q = report.latency['1m'].query;
  let hitRatio: number | null = null;
  if (cache && previousCache) {
    const hits = cache.hits - previousCache.hits;
    const lookups = hits + cache.misses - previousCache.misses;
    if (lookups > 0 && hits >= 0) hitRatio = Math.round((hits / lookups) * 1e4) / 1e4;
  }
  return {
    t: Date.parse(report.generatedAt),
    status: report.status,
    queriesPerSec: report.throughput.query ?? 0,
    requestsPerSec: Math.round(Object.values(report.throughput).reduce((a, b) => a + b, 0) * 10) / 10,
    errorsPerSec,
    p50: q?.p50 ?? 0,
    p95: q?.p95 ?? 0,
    p99: q?.p99 ?? 0,
    lagMs: report.writeBehind.oldestAgeMs,
    lagOps: report.writeBehind.ops,
    hitRatio,
  };
}
