/**
 * The SLA gate of a run: latency percentiles of the gated operation and the error ratio over
 * every request, against thresholds. The defaults match the engine's own SLA defaults (query
 * p99 ≤ 10 ms, p95 ≤ 5 ms, errors ≤ 0.1%). Latency is the client's view, measured from the
 * intended send time.
 */
import type { OpName } from './latency.js';
import type { RunResult } from './run.js';

export interface SlaThresholds {
  p95Ms: number;
  p99Ms: number;
  /** (non-2xx answers + failed requests) / requests. */
  errorRatio: number;
}

export const DEFAULT_SLA: Readonly<SlaThresholds> = Object.freeze({ p95Ms: 5, p99Ms: 10, errorRatio: 0.001 });

export interface SlaCheck {
  objective: string;
  target: number;
  actual: number;
  unit: 'ms' | 'ratio';
  pass: boolean;
}

export interface SlaVerdict {
  pass: boolean;
  /** The operation whose latency is gated: queries when the run has any, else upserts. */
  op: OpName;
  checks: SlaCheck[];
}

export function gatedOp(result: RunResult): OpName {
  return result.byOp.query ? 'query' : 'upsert';
}

export function checkSla(result: RunResult, t: SlaThresholds): SlaVerdict {
  const op = gatedOp(result);
  const stats = result.byOp[op];
  const total = result.overall.count;
  const failures = result.overall.non2xx + result.overall.errors;
  const checks: SlaCheck[] = [];
  if (!stats || stats.ok + stats.non2xx === 0) {
    checks.push({ objective: `${op} answered`, target: 1, actual: 0, unit: 'ratio', pass: false });
  } else {
    checks.push({ objective: `${op} p95 latency`, target: t.p95Ms, actual: stats.latencyMs.p95, unit: 'ms', pass: stats.latencyMs.p95 <= t.p95Ms });
    checks.push({ objective: `${op} p99 latency`, target: t.p99Ms, actual: stats.latencyMs.p99, unit: 'ms', pass: stats.latencyMs.p99 <= t.p99Ms });
  }
  const ratio = total === 0 ? 1 : failures / total;
  checks.push({ objective: 'error ratio', target: t.errorRatio, actual: ratio, unit: 'ratio', pass: ratio <= t.errorRatio });
  return { pass: checks.every((c) => c.pass), op, checks };
}
