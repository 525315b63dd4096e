/**
 * The targets for this benchmark, each with what the run measured and whether it met
 * it: printed under the table and kept in the JSON, so a run says plainly where hotvec stands
 * instead of leaving the reader to compare figures against a list elsewhere.
 *
 * The targets (60,000 × 784 l2, k 10, on the machine the benchmark runs on): saturated HTTP
 * throughput ≥ 6× Chroma's at recall@10 ≥ 0.99 and not below Chroma's; CPU per query of the
 * whole process ≤ 1.33× the bare usearch search's; p99 ≤ 10 ms at half the saturated rate;
 * cache hits well under 1 ms; durable upserts ≥ 10,000 vectors/s; restart ≤ 5 s; memory ≤ 1.5×
 * the raw vectors plus the graph. Where hotvec has two ways to a figure (the main port and the
 * query port; HTTP JSON and batched WebSocket msgpack), each is listed on its own line.
 */
import type { Summary } from './summary.js';

export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

const f = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');

export function checkTargets(s: Summary): TargetCheck[] {
  const recallOk = s.recall.hotvec >= 0.99 && s.recall.hotvec >= s.recall.chroma;
  const throughput = (where: string, ratio: number): TargetCheck => ({
    target: `HTTP queries/s ≥ 6× Chroma's, ${where} (medians of the runs' ratios), at recall@10 ≥ 0.99 and ≥ Chroma's`,
    measured: `${f(ratio, 2)}×; recall ${f(s.recall.hotvec, 4)} against ${f(s.recall.chroma, 4)}`,
    met: ratio >= 6 && recallOk,
  });
  const cpu = (where: string, ratio: number): TargetCheck => ({
    target: `CPU per query (all threads) ≤ 1.33× the bare search's (1 thread, in the run), ${where}`,
    measured: `${f(ratio, 2)}×`,
    met: ratio <= 1.33,
  });
  const cacheHitP50 = s.sequential.hotvecCacheHit.p50ms;
  return [
    throughput('main port', s.http.ratioQps),
    throughput('query port', s.queryPort.ratioQps),
    cpu('main port, HTTP JSON', s.cpuVsBareUsearch.ratioInRun),
    cpu('query port, HTTP JSON', s.queryPort.cpuOverBareInRun),
    cpu(`query port, WebSocket msgpack, ${s.queryPort.wsBatch.queriesPerMessage} queries per message`, s.queryPort.wsBatch.cpuOverBareInRun),
    { target: 'p99 ≤ 10 ms at half the saturated rate (main port, HTTP)', measured: `${f(s.halfRate.hotvec.p99ms, 1)} ms`, met: s.halfRate.hotvec.p99ms <= 10 },
    { target: 'cache hits well under 1 ms (p50 of one client, at most half of it)', measured: `${f(cacheHitP50, 2)} ms`, met: cacheHitP50 <= 0.5 },
    { target: 'durable upserts ≥ 10,000 vectors/s', measured: `${f(s.loadVectorsPerSecond.hotvec, 0)}/s`, met: s.loadVectorsPerSecond.hotvec >= 10_000 },
    { target: 'restart from the data folder ready to serve ≤ 5 s', measured: `${f(s.restart.readySeconds, 2)} s`, met: s.restart.readySeconds <= 5 },
    { target: 'memory (PSS after the query phases) ≤ 1.5× raw vectors + graph files', measured: `${f(s.memory.pssOverRawPlusGraphFiles, 2)}×`, met: s.memory.pssOverRawPlusGraphFiles <= 1.5 },
  ];
}

/** One line per target: `met` or `NOT MET`, the target, what was measured. */
export function formatTargets(checks: readonly TargetCheck[]): string {
  return checks.map((c) => `${c.met ? 'met    ' : 'NOT MET'}  ${c.target}: ${c.measured}`).join('\n');
}
