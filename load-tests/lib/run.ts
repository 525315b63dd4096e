/**
 * One measured load run: starts the driver of the chosen transport, reports progress once a
 * second, waits for the schedule to finish and the answers to drain (bounded by the drain
 * timeout; what is still outstanding then counts as failed), and summarises.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ActiveRun, Driver, Transport } from './driver.js';
import { httpDriver } from './http-driver.js';
import { LatencyRecorder, type OpName, type OpStats, type Percentiles, type TimelinePoint } from './latency.js';
import type { Workload } from './scenarios.js';
import { wsDriver } from './ws-driver.js';

export interface RunOptions {
  url: string;
  transport: Transport;
  /** Offered requests/s; 0 = closed model. */
  rate: number;
  durationS: number;
  connections: number;
  /** WebSocket closed model: requests in flight per socket. */
  inflight: number;
  /** Longest wait for outstanding answers after the last intended send. */
  drainTimeoutS: number;
  /** Called once a second while running. */
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  t: number;
  /** Requests finished in the last second. */
  ratePerSecond: number;
  /** Latency so far, over every operation (ms). */
  p99SoFar: number;
  errorsSoFar: number;
  inflight: number;
  backlog: number;
}

export interface RunResult {
  model: 'open' | 'closed';
  transport: Transport;
  scenario: string;
  /** Requests/s asked for (0 = closed model). */
  offeredRate: number;
  connections: number;
  durationS: number;
  /** From the first intended send to the last answer (or the drain deadline). */
  elapsedS: number;
  sent: number;
  /** Successful answers per second over `elapsedS`. */
  achievedRate: number;
  overall: OpStats;
  byOp: Partial<Record<OpName, OpStats>>;
  timeline: TimelinePoint[];
  /** How late the generator sent against the intended times; large values mean it was the bottleneck. */
  sendLagMs: Percentiles;
  /** CPU the generator process used, % of one core. */
  generatorCpuPercent: number;
  /** The generator's own event-loop delay, p99 (ms): how starved of CPU it was. */
  generatorLoopDelayP99Ms: number;
  /** Drain deadline reached with requests outstanding. */
  drainTimedOut: boolean;
}

const DRIVERS: Record<Transport, Driver> = { http: httpDriver, ws: wsDriver };
/** Connections get this long to open before the first request is due. */
const START_DELAY_MS = 100;

export async function runLoad(workload: Workload, o: RunOptions): Promise<RunResult> {
  const startMs = performance.now() + START_DELAY_MS;
  const recorder = new LatencyRecorder(startMs);
  const cpu = process.cpuUsage();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let run: ActiveRun;
  try {
    run = await DRIVERS[o.transport]({
      url: o.url,
      workload,
      recorder,
      rate: o.rate,
      startMs,
      durationMs: o.durationS * 1000,
      connections: o.connections,
      inflight: o.inflight,
    });
  } catch (err) {
    loopDelay.disable();
    throw err;
  }

  let lastFinished = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now < startMs) return;
    const finished = recorder.finished;
    recorder.tick(now);
    o.onProgress?.({
      t: (now - startMs) / 1000,
      ratePerSecond: finished - lastFinished,
      p99SoFar: recorder.overall().p99,
      errorsSoFar: recorder.failures,
      inflight: run.inflight(),
      backlog: run.backlog(),
    });
    lastFinished = finished;
  }, 1000);

  let deadline: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    run.idle.then(() => false),
    new Promise<boolean>((resolve) => (deadline = setTimeout(() => resolve(true), START_DELAY_MS + (o.durationS + o.drainTimeoutS) * 1000))),
  ]);
  clearTimeout(deadline);
  clearInterval(ticker);
  const endMs = performance.now();
  if (recorder.finished > lastFinished && recorder.sinceTick(endMs) >= 0.25) recorder.tick(endMs);
  await run.close();
  loopDelay.disable();
  const used = process.cpuUsage(cpu);
  const elapsedS = Math.max(1e-3, (endMs - startMs) / 1000);
  const overall = recorder.stats('all', elapsedS)!;
  const byOp: Partial<Record<OpName, OpStats>> = {};
  for (const op of recorder.opNames()) byOp[op] = recorder.stats(op, elapsedS)!;
  return {
    model: o.rate > 0 ? 'open' : 'closed',
    transport: o.transport,
    scenario: workload.options.scenario,
    offeredRate: o.rate,
    connections: o.connections,
    durationS: o.durationS,
    elapsedS,
    sent: recorder.sent,
    achievedRate: overall.ok / elapsedS,
    overall,
    byOp,
    timeline: recorder.timeline,
    sendLagMs: recorder.sendLagMs(),
    generatorCpuPercent: ((used.user + used.system) / 1000 / ((endMs - startMs + START_DELAY_MS) || 1)) * 100,
    generatorLoopDelayP99Ms: loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0,
    drainTimedOut: timedOut,
  };
}
