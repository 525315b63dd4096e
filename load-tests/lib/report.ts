/**
 * What a load test leaves behind: the report object (written as JSON for scripts to compare),
 * and the tables a person reads on stdout.
 */
import { availableParallelism, cpus } from 'node:os';
import type { DatasetInfo } from './dataset.js';
import type { FindMaxStep } from './find-max.js';
import { OP_NAMES, type OpStats } from './latency.js';
import type { RunResult } from './run.js';
import { describeObjective, sideBySide, type ServerSlaView, type SideBySide } from './server-sla.js';
import type { SlaThresholds, SlaVerdict } from './sla-check.js';

export interface StepSummary {
  rate: number;
  pass: boolean;
  achievedRate: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
  errorRatio: number;
  sendLagP99: number;
  verdict: SlaVerdict;
}

export interface LoadReport {
  tool: 'hotvec-loadtest';
  version: 1;
  startedAt: string;
  machine: { cores: number; cpu: string; node: string; platform: string };
  target: { url: string; startedByTool: boolean };
  dataset: DatasetInfo;
  workload: {
    scenario: string;
    readRatio: number;
    transport: string;
    encoding: string;
    connections: number;
    inflight: number;
    k: number;
    batch: number;
    /** 0: every query distinct. */
    queryPool: number;
    seed: number;
  };
  sla: { thresholds: SlaThresholds; pass: boolean; verdict?: SlaVerdict };
  /** A single run (not `--find-max`). */
  run?: RunResult;
  findMax?: { best: number | null; stepDurationS: number; steps: StepSummary[] };
  server: ServerSlaView;
  /** Client and server percentiles side by side (server window `1m`). */
  comparison: SideBySide[];
}

export function machine(): LoadReport['machine'] {
  return { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` };
}

export function summariseStep(step: FindMaxStep<{ run: RunResult; verdict: SlaVerdict }>): StepSummary {
  const { run, verdict } = step.result;
  const stats = run.byOp[verdict.op] ?? run.overall;
  return {
    rate: step.rate,
    pass: step.pass,
    achievedRate: run.achievedRate,
    p50: stats.latencyMs.p50,
    p95: stats.latencyMs.p95,
    p99: stats.latencyMs.p99,
    p999: stats.latencyMs.p999,
    errorRatio: run.overall.count === 0 ? 1 : (run.overall.errors + run.overall.non2xx) / run.overall.count,
    sendLagP99: run.sendLagMs.p99,
    verdict,
  };
}

export function withComparison(report: Omit<LoadReport, 'comparison'>): LoadReport {
  const byOp = report.run?.byOp ?? {};
  return { ...report, comparison: sideBySide(byOp, report.server) };
}

// ---------------------------------------------------------------------------------------------
// Text

/** A plain text table: first row is the header; numbers right-aligned. */
export function textTable(rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? (Number.isInteger(c) ? String(c) : fmt(c)) : c)));
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const numeric = cells[0]!.map((_, i) => rows.slice(1).every((r) => typeof r[i] === 'number'));
  const line = (r: string[]): string => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** Compact numbers: 3 significant digits for small values, integers for large ones. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n === 0) return '0';
  const a = Math.abs(n);
  if (a >= 1000) return Math.round(n).toString();
  if (a >= 100) return n.toFixed(1);
  if (a >= 10) return n.toFixed(2);
  if (a >= 0.001) return n.toPrecision(3);
  return n.toExponential(2);
}

function opRows(byOp: Partial<Record<string, OpStats>>, overall: OpStats, elapsedS: number): (string | number)[][] {
  const rows: (string | number)[][] = [['op', 'requests', 'ok/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'non-2xx', 'errors']];
  const add = (name: string, s: OpStats): void => {
    const l = s.latencyMs;
    rows.push([name, s.count, s.ok / elapsedS, l.p50, l.p95, l.p99, l.p999, l.max, s.non2xx, s.errors]);
  };
  const ops = OP_NAMES.filter((op) => byOp[op]);
  for (const op of ops) add(op, byOp[op]!);
  if (ops.length > 1) add('all', overall);
  return rows;
}

function describeRun(r: LoadReport): string {
  const w = r.workload;
  const mix = w.scenario === 'mixed' ? ` (read ratio ${w.readRatio})` : '';
  const where = `${r.dataset.collection}: ${r.dataset.n} × ${r.dataset.dim} ${r.dataset.metric}`;
  const conns = w.transport === 'ws' ? `${w.connections} socket(s)` : `${w.connections} connection(s)`;
  return `${w.scenario}${mix} over ${w.transport}${w.transport === 'http' ? ` (${w.encoding})` : ' (msgpack)'}, ${conns}, k=${w.k}; ${where}`;
}

function verdictTable(v: SlaVerdict): string {
  const rows: (string | number)[][] = [['SLA (client view)', 'target', 'measured', 'result']];
  for (const c of v.checks) {
    const unit = c.unit === 'ms' ? ' ms' : '';
    rows.push([c.objective, `≤ ${c.target}${unit}`, `${fmt(c.actual)}${unit}`, c.pass ? 'pass' : 'FAIL']);
  }
  return textTable(rows);
}

function serverSection(r: LoadReport): string {
  const s = r.server;
  if (!s.available) return `server view: ${s.reason}; only the client's numbers are shown.`;
  const cache = s.cache ? `; query cache hit ratio ${fmt(s.cache.hitRatio)} (${s.cache.hits} hits, ${s.cache.misses} misses)` : '';
  const out = [`server view (GET /v1/sla): status ${s.status}${cache}`];
  const rows: (string | number)[][] = [['op', 'view', 'window', 'count', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms']];
  for (const c of r.comparison) {
    rows.push([c.op, 'client', 'run', c.client.count, c.client.p50, c.client.p95, c.client.p99, c.client.p999]);
    if (c.server) rows.push([c.op, 'server', c.window, c.server.count, c.server.p50, c.server.p95, c.server.p99, c.server.p999]);
    else rows.push([c.op, 'server', c.window, '-', '-', '-', '-', '-']);
  }
  if (r.comparison.length > 0) out.push(textTable(rows));
  for (const o of s.objectives) out.push(`  objective ${describeObjective(o)}`);
  return out.join('\n');
}

/**
 * A generator that could not send on time (CPU starved, or every connection busy) adds its own
 * delay to the corrected latency; say so when that delay is a noticeable part of the tail.
 */
function generatorWarning(run: RunResult): string[] {
  const lag = run.sendLagMs.p99;
  if (run.model !== 'open' || lag < Math.max(2, 0.25 * run.overall.latencyMs.p99)) return [];
  const cause =
    run.generatorLoopDelayP99Ms >= lag / 2
      ? 'its own event loop was delayed (CPU shared with the server?)'
      : 'all connections were busy (try more --connections)';
  return [`warning: the generator sent late (send lag p99 ${fmt(lag)} ms): ${cause}; the corrected latency includes that delay, the service time does not`];
}

export function formatRun(r: LoadReport): string {
  const run = r.run!;
  const model = run.model === 'open' ? `open model at ${fmt(run.offeredRate)} req/s` : 'closed model';
  const out = [
    `hotvec load test: ${describeRun(r)}`,
    `${model}, ${run.durationS} s (${fmt(run.elapsedS)} s to the last answer${run.drainTimedOut ? ', drain timed out' : ''}); ${run.sent} sent, ${fmt(run.achievedRate)} ok/s`,
    '',
    textTable(opRows(run.byOp, run.overall, run.elapsedS)),
    '',
    `latency is measured from each request's intended send time${run.model === 'open' ? ' (coordinated omission corrected)' : ''}; ` +
      `service time from the actual send: p50 ${fmt(run.overall.serviceMs.p50)} ms, p99 ${fmt(run.overall.serviceMs.p99)} ms`,
    `generator: send lag p99 ${fmt(run.sendLagMs.p99)} ms, event-loop delay p99 ${fmt(run.generatorLoopDelayP99Ms)} ms, CPU ${fmt(run.generatorCpuPercent)}% of a core`,
    ...generatorWarning(run),
    '',
    verdictTable(r.sla.verdict!),
    '',
    serverSection(r),
    '',
    `SLA ${r.sla.pass ? 'met' : 'FAILED'}`,
  ];
  return out.join('\n');
}

export function formatFindMax(r: LoadReport): string {
  const f = r.findMax!;
  const rows: (string | number)[][] = [['step', 'offered/s', 'ok/s', 'p50 ms', 'p95 ms', 'p99 ms', 'p99.9 ms', 'error ratio', 'send lag p99', 'SLA']];
  f.steps.forEach((s, i) => rows.push([i + 1, s.rate, s.achievedRate, s.p50, s.p95, s.p99, s.p999, s.errorRatio, s.sendLagP99, s.pass ? 'pass' : 'FAIL']));
  const t = r.sla.thresholds;
  return [
    `hotvec load test --find-max: ${describeRun(r)}`,
    `SLA: p95 ≤ ${t.p95Ms} ms, p99 ≤ ${t.p99Ms} ms, error ratio ≤ ${t.errorRatio}; steps of ${f.stepDurationS} s`,
    '',
    textTable(rows),
    '',
    f.best === null ? 'no rate met the SLA' : `highest rate meeting the SLA: ${f.best} req/s`,
    '',
    serverSection(r),
  ].join('\n');
}
