/**
 * The side-by-side summary of a vs-chroma benchmark: medians over its runs of each phase, the
 * CPU comparisons with the bare usearch search, memory and restart; and the table printed from it.
 */
import type { LoadStats } from './load.js';
import type { ThreadSplit } from './proc.js';

export interface Phase extends LoadStats {
  /** Server CPU seconds (all threads) per answered query, in ms. */
  cpuMsPerQuery: number;
  /** The same split by thread (ms per query): main thread, the query workers (busiest threads), the rest. */
  threads: ThreadSplit;
}

/** One run's measured phases. */
export interface RunPhases {
  /**
   * The bare usearch search on one thread, measured in the run: the mean of its timings at the
   * start, the middle and the end of the run's saturated phases (`bareTimings`, CPU ms per query).
   */
  bare: CpuRate;
  /** The run's three one-thread timings of the bare search, CPU ms per query, in order. */
  bareTimings: number[];
  hotvecHttp: Phase;
  /** The same load on hotvec's query port (`--query-port`): the workers take the connections. */
  hotvecQueryPort: Phase;
  /** The main port's one-query-per-message WebSocket load, on the query port. */
  hotvecQueryPortWs: Phase;
  /** The batched WebSocket load (`--ws-batch` queries per message), on the query port. */
  hotvecQueryPortWsBatch: Phase;
  chromaHttp: Phase;
  hotvecWs: Phase;
  hotvecWsBatch: Phase;
  floorHttp: Phase;
  /** The search ceiling (search-ceiling.ts): the transport floor and the bare search inline in each thread. */
  ceilingHttp: Phase;
  hotvecHalfRate: Phase;
  chromaHalfRate: Phase;
  /** Of hotvec's half-rate queries, the share its own latency histogram put within 10 ms. */
  serverWithin10ms: number;
}

interface Latency {
  p50ms: number;
  p99ms: number;
}

interface CpuRate {
  cpuMsPerQuery: number;
  queriesPerSecond: number;
}

interface Memory {
  rss: number;
  pss: number;
  arena: number;
  graphFiles: number;
  cHeap: number;
}

/** Everything a benchmark measured outside its runs, and the runs. */
export interface Measured {
  n: number;
  k: number;
  wsBatch: number;
  wsBatchInFlight: number;
  connections: number;
  /** hotvec's query workers (and the search ceiling's threads). */
  workers: number;
  recall: { hotvec: number; chroma: number };
  hnsw: Record<string, unknown>;
  duringLoad: Latency & { queries: number };
  bare: CpuRate;
  bareParallel: CpuRate;
  memory: Memory;
  memoryIdle: Memory;
  rawBytes: number;
  graph: { fileBytes: number; graphBytes: number };
  restart: { readySeconds: number; recovery: unknown };
  loadSeconds: { hotvec: number; chroma: number };
  perRun: RunPhases[];
  seqMiss: Latency;
  seqHit: Latency;
  seqChroma: Latency;
  hits: Phase;
}

/** A figure with `digits` decimals, or a dash when it is not a number. */
export const fixed = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '—');

export const median = (xs: number[]): number => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Medians over the runs, ratios to Chroma and to the bare search, memory against raw vectors + graph. */
export function summarize(i: Measured) {
  const { n, recall, duringLoad, bare, bareParallel, memory, memoryIdle, rawBytes, graph, restart, wsBatch, seqMiss, seqHit, seqChroma, hits, perRun } = i;
  const med = (pick: (r: RunPhases) => number): number => median(perRun.map(pick));
  /** Medians of a phase's CPU ms per query by thread: main, query workers, the rest. */
  const threadsOf = (phase: (r: RunPhases) => Phase): { main: number; workers: number; other: number } => ({
    main: med((r) => phase(r).threads.main),
    workers: med((r) => phase(r).threads.busiest),
    other: med((r) => phase(r).threads.other),
  });
  return {
    recall,
    hnsw: i.hnsw,
    queriesDuringLoad: duringLoad,
    cpuVsBareUsearch: {
      bareCpuMsPerQuery: bare.cpuMsPerQuery,
      bareQueriesPerSecond: bare.queriesPerSecond,
      // Each run's CPU per query against the bare search of the same run (the machine's speed drifts).
      bareInRunsCpuMsPerQuery: med((r) => r.bare.cpuMsPerQuery),
      ratioInRun: med((r) => r.hotvecHttp.cpuMsPerQuery / r.bare.cpuMsPerQuery),
      bareParallelCpuMsPerQuery: bareParallel.cpuMsPerQuery,
      bareParallelQueriesPerSecond: bareParallel.queriesPerSecond,
      ratioParallel: med((r) => r.hotvecHttp.cpuMsPerQuery) / bareParallel.cpuMsPerQuery,
      ratioParallelWs: med((r) => r.hotvecWs.cpuMsPerQuery) / bareParallel.cpuMsPerQuery,
      ratioWsBatchInRun: med((r) => r.hotvecWsBatch.cpuMsPerQuery / r.bare.cpuMsPerQuery),
      ratioParallelWsBatch: med((r) => r.hotvecWsBatch.cpuMsPerQuery) / bareParallel.cpuMsPerQuery,
      wsBatchThreadsMsPerQuery: threadsOf((r) => r.hotvecWsBatch),
      // The least CPU per query hotvec could spend over HTTP JSON with its transport: the transport floor plus the bare search.
      httpFloorCpuMsPerQuery: med((r) => r.floorHttp.cpuMsPerQuery),
      ratioHttpLowerBoundInRun: med((r) => (r.floorHttp.cpuMsPerQuery + r.bare.cpuMsPerQuery) / r.bare.cpuMsPerQuery),
      httpThreadsMsPerQuery: threadsOf((r) => r.hotvecHttp),
      wsThreadsMsPerQuery: threadsOf((r) => r.hotvecWs),
    },
    memory: {
      ...memory,
      afterIndexing: memoryIdle,
      rawVectorBytes: rawBytes,
      graphFileBytes: graph.fileBytes,
      graphOnlyBytes: graph.graphBytes,
      rssOverRawPlusGraph: memory.rss / (rawBytes + graph.graphBytes),
      pssOverRawPlusGraphFiles: memory.pss / (rawBytes + graph.fileBytes),
    },
    restart: { readySeconds: restart.readySeconds, recovery: restart.recovery },
    loadVectorsPerSecond: { hotvec: n / i.loadSeconds.hotvec, chroma: n / i.loadSeconds.chroma },
    http: {
      hotvec: { qps: med((r) => r.hotvecHttp.queriesPerSecond), p50ms: med((r) => r.hotvecHttp.p50ms), p95ms: med((r) => r.hotvecHttp.p95ms), p99ms: med((r) => r.hotvecHttp.p99ms), cpuMsPerQuery: med((r) => r.hotvecHttp.cpuMsPerQuery) },
      chroma: { qps: med((r) => r.chromaHttp.queriesPerSecond), p50ms: med((r) => r.chromaHttp.p50ms), p95ms: med((r) => r.chromaHttp.p95ms), p99ms: med((r) => r.chromaHttp.p99ms), cpuMsPerQuery: med((r) => r.chromaHttp.cpuMsPerQuery) },
      ratioQps: med((r) => r.hotvecHttp.queriesPerSecond / r.chromaHttp.queriesPerSecond),
    },
    queryPort: {
      qps: med((r) => r.hotvecQueryPort.queriesPerSecond),
      p50ms: med((r) => r.hotvecQueryPort.p50ms),
      p99ms: med((r) => r.hotvecQueryPort.p99ms),
      cpuMsPerQuery: med((r) => r.hotvecQueryPort.cpuMsPerQuery),
      ratioQps: med((r) => r.hotvecQueryPort.queriesPerSecond / r.chromaHttp.queriesPerSecond),
      cpuOverBareInRun: med((r) => r.hotvecQueryPort.cpuMsPerQuery / r.bare.cpuMsPerQuery),
      shareOfCeiling: med((r) => r.hotvecQueryPort.queriesPerSecond / r.ceilingHttp.queriesPerSecond),
      ws: {
        qps: med((r) => r.hotvecQueryPortWs.queriesPerSecond),
        p99ms: med((r) => r.hotvecQueryPortWs.p99ms),
        cpuMsPerQuery: med((r) => r.hotvecQueryPortWs.cpuMsPerQuery),
        cpuOverBareInRun: med((r) => r.hotvecQueryPortWs.cpuMsPerQuery / r.bare.cpuMsPerQuery),
      },
      wsBatch: {
        queriesPerMessage: wsBatch,
        qps: med((r) => r.hotvecQueryPortWsBatch.queriesPerSecond),
        messageP99ms: med((r) => r.hotvecQueryPortWsBatch.p99ms),
        cpuMsPerQuery: med((r) => r.hotvecQueryPortWsBatch.cpuMsPerQuery),
        cpuOverBareInRun: med((r) => r.hotvecQueryPortWsBatch.cpuMsPerQuery / r.bare.cpuMsPerQuery),
        threadsMsPerQuery: threadsOf((r) => r.hotvecQueryPortWsBatch),
      },
      threadsMsPerQuery: threadsOf((r) => r.hotvecQueryPort),
    },
    websocketMsgpackBatched: {
      queriesPerMessage: wsBatch,
      qps: med((r) => r.hotvecWsBatch.queriesPerSecond),
      messageP50ms: med((r) => r.hotvecWsBatch.p50ms),
      messageP99ms: med((r) => r.hotvecWsBatch.p99ms),
      cpuMsPerQuery: med((r) => r.hotvecWsBatch.cpuMsPerQuery),
    },
    // What this machine gives the same search over the same transport with no hand-off, in each run beside Chroma.
    searchCeiling: {
      qps: med((r) => r.ceilingHttp.queriesPerSecond),
      p99ms: med((r) => r.ceilingHttp.p99ms),
      cpuMsPerQuery: med((r) => r.ceilingHttp.cpuMsPerQuery),
      ratioQpsToChroma: med((r) => r.ceilingHttp.queriesPerSecond / r.chromaHttp.queriesPerSecond),
      cpuOverBareInRun: med((r) => r.ceilingHttp.cpuMsPerQuery / r.bare.cpuMsPerQuery),
      hotvecShareOfCeiling: med((r) => r.hotvecHttp.queriesPerSecond / r.ceilingHttp.queriesPerSecond),
    },
    httpTransportFloor: { qps: med((r) => r.floorHttp.queriesPerSecond), p50ms: med((r) => r.floorHttp.p50ms), p99ms: med((r) => r.floorHttp.p99ms), cpuMsPerQuery: med((r) => r.floorHttp.cpuMsPerQuery) },
    websocketMsgpack: { qps: med((r) => r.hotvecWs.queriesPerSecond), p50ms: med((r) => r.hotvecWs.p50ms), p95ms: med((r) => r.hotvecWs.p95ms), p99ms: med((r) => r.hotvecWs.p99ms), cpuMsPerQuery: med((r) => r.hotvecWs.cpuMsPerQuery) },
    halfRate: {
      hotvec: { qps: med((r) => r.hotvecHalfRate.queriesPerSecond), p50ms: med((r) => r.hotvecHalfRate.p50ms), p99ms: med((r) => r.hotvecHalfRate.p99ms), serverWithin10ms: med((r) => r.serverWithin10ms) },
      chroma: { qps: med((r) => r.chromaHalfRate.queriesPerSecond), p50ms: med((r) => r.chromaHalfRate.p50ms), p99ms: med((r) => r.chromaHalfRate.p99ms) },
    },
    sequential: { hotvecMiss: seqMiss, hotvecCacheHit: seqHit, chroma: seqChroma },
    cacheHitsSaturated: { qps: hits.queriesPerSecond, p50ms: hits.p50ms, p99ms: hits.p99ms, cpuMsPerQuery: hits.cpuMsPerQuery },
  };
}

export type Summary = ReturnType<typeof summarize>;

/** The printed table: one row per figure, hotvec beside Chroma and their ratio where both have one. */
export function sideBySide(s: Summary, i: Measured): Record<string, { hotvec: string; chroma: string; 'hotvec/chroma': string }> {
  const { k, connections, wsBatch, wsBatchInFlight, bare, bareParallel, seqMiss, seqHit, seqChroma, hits, duringLoad, memory, rawBytes, graph, restart } = i;
  const f = fixed;
  return {
    'load, vectors/s': { hotvec: f(s.loadVectorsPerSecond.hotvec, 0), chroma: f(s.loadVectorsPerSecond.chroma, 0), 'hotvec/chroma': f(s.loadVectorsPerSecond.hotvec / s.loadVectorsPerSecond.chroma, 1) },
    [`recall@${k}`]: { hotvec: f(s.recall.hotvec, 4), chroma: f(s.recall.chroma, 4), 'hotvec/chroma': '' },
    [`HTTP queries/s (${connections} conns)`]: { hotvec: f(s.http.hotvec.qps, 0), chroma: f(s.http.chroma.qps, 0), 'hotvec/chroma': f(s.http.ratioQps, 2) },
    'HTTP p50 ms': { hotvec: f(s.http.hotvec.p50ms), chroma: f(s.http.chroma.p50ms), 'hotvec/chroma': f(s.http.hotvec.p50ms / s.http.chroma.p50ms, 2) },
    'HTTP p95 ms': { hotvec: f(s.http.hotvec.p95ms), chroma: f(s.http.chroma.p95ms), 'hotvec/chroma': f(s.http.hotvec.p95ms / s.http.chroma.p95ms, 2) },
    'HTTP p99 ms': { hotvec: f(s.http.hotvec.p99ms), chroma: f(s.http.chroma.p99ms), 'hotvec/chroma': f(s.http.hotvec.p99ms / s.http.chroma.p99ms, 2) },
    'server CPU ms/query (HTTP)': { hotvec: f(s.http.hotvec.cpuMsPerQuery, 2), chroma: f(s.http.chroma.cpuMsPerQuery, 2), 'hotvec/chroma': f(s.http.hotvec.cpuMsPerQuery / s.http.chroma.cpuMsPerQuery, 2) },
    'WS msgpack queries/s': { hotvec: f(s.websocketMsgpack.qps, 0), chroma: '', 'hotvec/chroma': f(s.websocketMsgpack.qps / s.http.chroma.qps, 2) },
    'WS msgpack p50 / p95 / p99 ms': { hotvec: `${f(s.websocketMsgpack.p50ms)} / ${f(s.websocketMsgpack.p95ms)} / ${f(s.websocketMsgpack.p99ms)}`, chroma: '', 'hotvec/chroma': '' },
    // Not divided by Chroma's rate: Chroma was driven one query per request (it takes batches too).
    [`WS msgpack, ${wsBatch} queries per message, ${wsBatchInFlight * wsBatch} in flight: queries/s (message p50 / p99 ms)`]: {
      hotvec: `${f(s.websocketMsgpackBatched.qps, 0)} (${f(s.websocketMsgpackBatched.messageP50ms)} / ${f(s.websocketMsgpackBatched.messageP99ms)})`,
      chroma: '',
      'hotvec/chroma': '',
    },
    // Not hotvec: what the same search reaches over the same transport with no hand-off (search-ceiling.ts).
    [`search ceiling, a reference server, not hotvec (transport + bare search inline in ${i.workers} threads): queries/s, CPU ms/query`]: {
      hotvec: `${f(s.searchCeiling.qps, 0)}, ${f(s.searchCeiling.cpuMsPerQuery, 3)} (hotvec reached ${f(100 * s.searchCeiling.hotvecShareOfCeiling, 0)}% of its rate)`,
      chroma: '',
      'hotvec/chroma': f(s.searchCeiling.ratioQpsToChroma, 2),
    },
    'hotvec query port HTTP (workers take the connections): queries/s, p99 ms, CPU ms/query': {
      hotvec: `${f(s.queryPort.qps, 0)}, ${f(s.queryPort.p99ms)}, ${f(s.queryPort.cpuMsPerQuery, 3)} (${f(100 * s.queryPort.shareOfCeiling, 0)}% of the ceiling's rate)`,
      chroma: '',
      'hotvec/chroma': f(s.queryPort.ratioQps, 2),
    },
    'hotvec query port CPU per query / bare usearch (1 thread, in the run)': { hotvec: f(s.queryPort.cpuOverBareInRun, 2), chroma: '', 'hotvec/chroma': '' },
    'hotvec query port WS msgpack (as the WS row): queries/s, p99 ms, CPU ms/query (/ bare, in the run)': {
      hotvec: `${f(s.queryPort.ws.qps, 0)}, ${f(s.queryPort.ws.p99ms)}, ${f(s.queryPort.ws.cpuMsPerQuery, 3)} (${f(s.queryPort.ws.cpuOverBareInRun, 2)}×)`,
      chroma: '',
      'hotvec/chroma': f(s.queryPort.ws.qps / s.http.chroma.qps, 2),
    },
    [`hotvec query port WS msgpack, ${wsBatch} per message (as the batched WS row): queries/s, message p99 ms, CPU ms/query (/ bare, in the run)`]: {
      hotvec: `${f(s.queryPort.wsBatch.qps, 0)}, ${f(s.queryPort.wsBatch.messageP99ms)}, ${f(s.queryPort.wsBatch.cpuMsPerQuery, 3)} (${f(s.queryPort.wsBatch.cpuOverBareInRun, 2)}×)`,
      chroma: '',
      'hotvec/chroma': '',
    },
    [`hotvec query port WS ${wsBatch}-per-message CPU ms/query: main / query workers / other threads`]: {
      hotvec: `${f(s.queryPort.wsBatch.threadsMsPerQuery.main, 3)} / ${f(s.queryPort.wsBatch.threadsMsPerQuery.workers, 3)} / ${f(s.queryPort.wsBatch.threadsMsPerQuery.other, 3)}`,
      chroma: '',
      'hotvec/chroma': '',
    },
    'hotvec query port CPU ms/query: main / query workers / other threads': {
      hotvec: `${f(s.queryPort.threadsMsPerQuery.main, 3)} / ${f(s.queryPort.threadsMsPerQuery.workers, 3)} / ${f(s.queryPort.threadsMsPerQuery.other, 3)}`,
      chroma: '',
      'hotvec/chroma': '',
    },
    'search ceiling (not hotvec) CPU per query / bare usearch (1 thread, in the run)': { hotvec: f(s.searchCeiling.cpuOverBareInRun, 2), chroma: '', 'hotvec/chroma': '' },
    'HTTP transport floor, no search: queries/s, CPU ms/query': { hotvec: `${f(s.httpTransportFloor.qps, 0)}, ${f(s.httpTransportFloor.cpuMsPerQuery, 3)}`, chroma: '', 'hotvec/chroma': '' },
    'HTTP at half its rate: p50 / p99 ms': { hotvec: `${f(s.halfRate.hotvec.p50ms)} / ${f(s.halfRate.hotvec.p99ms)}`, chroma: `${f(s.halfRate.chroma.p50ms)} / ${f(s.halfRate.chroma.p99ms)}`, 'hotvec/chroma': f(s.halfRate.hotvec.p99ms / s.halfRate.chroma.p99ms, 2) },
    "… hotvec's own clock: share answered within 10 ms": { hotvec: `${f(100 * s.halfRate.hotvec.serverWithin10ms, 2)}%`, chroma: '', 'hotvec/chroma': '' },
    '1 client p50 / p99 ms': { hotvec: `${f(seqMiss.p50ms, 2)} / ${f(seqMiss.p99ms, 2)}`, chroma: `${f(seqChroma.p50ms, 2)} / ${f(seqChroma.p99ms, 2)}`, 'hotvec/chroma': f(seqMiss.p50ms / seqChroma.p50ms, 2) },
    '1 client cache hit p50 / p99 ms': { hotvec: `${f(seqHit.p50ms, 2)} / ${f(seqHit.p99ms, 2)}`, chroma: '', 'hotvec/chroma': '' },
    'cache hits queries/s (saturated)': { hotvec: f(hits.queriesPerSecond, 0), chroma: '', 'hotvec/chroma': '' },
    'bare usearch CPU ms/query (same graph, ef): before the runs 1 thread / all threads at once; in the runs 1 thread': {
      hotvec: `${f(bare.cpuMsPerQuery, 3)} / ${f(bareParallel.cpuMsPerQuery, 3)}; ${f(s.cpuVsBareUsearch.bareInRunsCpuMsPerQuery, 3)}`,
      chroma: '',
      'hotvec/chroma': '',
    },
    'hotvec HTTP CPU per query / bare usearch (1 thread in the run / all at once before)': { hotvec: `${f(s.cpuVsBareUsearch.ratioInRun, 2)} / ${f(s.cpuVsBareUsearch.ratioParallel, 2)}`, chroma: '', 'hotvec/chroma': '' },
    [`hotvec WS ${wsBatch}-per-message CPU per query / bare usearch (1 thread in the run / all at once before)`]: { hotvec: `${f(s.cpuVsBareUsearch.ratioWsBatchInRun, 2)} / ${f(s.cpuVsBareUsearch.ratioParallelWsBatch, 2)}`, chroma: '', 'hotvec/chroma': '' },
    'hotvec HTTP CPU per query at best (transport floor + bare) / bare (in the run)': { hotvec: f(s.cpuVsBareUsearch.ratioHttpLowerBoundInRun, 2), chroma: '', 'hotvec/chroma': '' },
    'hotvec HTTP CPU ms/query: main / query workers / other threads': {
      hotvec: `${f(s.cpuVsBareUsearch.httpThreadsMsPerQuery.main, 3)} / ${f(s.cpuVsBareUsearch.httpThreadsMsPerQuery.workers, 3)} / ${f(s.cpuVsBareUsearch.httpThreadsMsPerQuery.other, 3)}`,
      chroma: '',
      'hotvec/chroma': '',
    },
    'hotvec WS CPU ms/query: main / query workers / other threads': {
      hotvec: `${f(s.cpuVsBareUsearch.wsThreadsMsPerQuery.main, 3)} / ${f(s.cpuVsBareUsearch.wsThreadsMsPerQuery.workers, 3)} / ${f(s.cpuVsBareUsearch.wsThreadsMsPerQuery.other, 3)}`,
      chroma: '',
      'hotvec/chroma': '',
    },
    [`hotvec WS ${wsBatch}-per-message CPU ms/query: main / query workers / other threads`]: {
      hotvec: `${f(s.cpuVsBareUsearch.wsBatchThreadsMsPerQuery.main, 3)} / ${f(s.cpuVsBareUsearch.wsBatchThreadsMsPerQuery.workers, 3)} / ${f(s.cpuVsBareUsearch.wsBatchThreadsMsPerQuery.other, 3)}`,
      chroma: '',
      'hotvec/chroma': '',
    },
    'queries answered during the load (p50 / p99 ms)': { hotvec: `${duringLoad.queries} (${f(duringLoad.p50ms)} / ${f(duringLoad.p99ms)})`, chroma: '', 'hotvec/chroma': '' },
    'memory RSS MiB (raw vectors + graph links MiB)': { hotvec: `${f(memory.rss / 2 ** 20, 0)} (${f(rawBytes / 2 ** 20, 0)} + ${f(graph.graphBytes / 2 ** 20, 0)})`, chroma: '', 'hotvec/chroma': '' },
    'memory PSS MiB: arena / graph files / C heap (raw + graph files MiB)': {
      hotvec: `${f(memory.pss / 2 ** 20, 0)}: ${f(memory.arena / 2 ** 20, 0)} / ${f(memory.graphFiles / 2 ** 20, 0)} / ${f(memory.cHeap / 2 ** 20, 0)} (${f(rawBytes / 2 ** 20, 0)} + ${f(graph.fileBytes / 2 ** 20, 0)})`,
      chroma: '',
      'hotvec/chroma': '',
    },
    'restart until answering, s': { hotvec: f(restart.readySeconds, 2), chroma: '', 'hotvec/chroma': '' },
  };
}
