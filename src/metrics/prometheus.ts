/**
 * The Prometheus registry behind `GET /metrics` (prom-client does the exposition). Request,
 * pool and WAL latencies are histograms with a bucket boundary at every SLA latency target;
 * write-behind, index, pool, cache and SLA state are gauges read when scraped; the default
 * process and Node.js metrics (RSS, CPU, heap, event-loop lag) come from prom-client.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { FastHistogram, type HistogramSeries } from './prom-histogram.js';
import type { CacheStats, MetricsSources } from './sources.js';
import type { SlaReport } from './report.js';
import type { RequestLabel } from './request-series.js';
import { LATENCY_WINDOW_NAMES } from './windows.js';

/** Request latency buckets (seconds), before the SLA targets are added. */
export const BASE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const STATUS_VALUE = { ok: 0, warning: 1, breach: 2 } as const;
const WRITE_BEHIND_STATES = ['healthy', 'retrying', 'down'];

export interface PromMetrics {
  registry: Registry;
  requests: FastHistogram<RequestLabel>;
  poolWait: HistogramSeries;
  poolRun: HistogramSeries;
  walSync: HistogramSeries;
  walRecords: Counter;
  walBytes: Counter;
  flushRetries: Counter;
  alerts: Counter<'objective' | 'to'>;
}

export interface PromOptions {
  /** SLA latency targets in seconds: each becomes a bucket boundary. */
  targetsSeconds: readonly number[];
  defaultMetrics: boolean;
  sources: () => MetricsSources;
  /** The report of the scrape in progress. */
  report: () => SlaReport | undefined;
}

export function createPromMetrics(o: PromOptions): PromMetrics {
  const registry = new Registry();
  if (o.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const buckets = [...BASE_BUCKETS, ...o.targetsSeconds];

  const requests = new FastHistogram<RequestLabel>({
    name: 'hotvec_request_duration_seconds',
    help: 'Time from a request arriving to its answer being written, by operation, transport (http, ws) and status code.',
    labelNames: ['op', 'transport', 'status'],
    buckets,
    registry,
  });
  const poolWait = new FastHistogram({ name: 'hotvec_pool_queue_wait_seconds', help: 'Time a query task waited for a pool worker (queue and hand-over).', labelNames: [], buckets, registry }).series();
  const poolRun = new FastHistogram({ name: 'hotvec_pool_run_seconds', help: 'Time a pool worker spent scanning for one query task.', labelNames: [], buckets, registry }).series();
  const walSync = new FastHistogram({ name: 'hotvec_wal_sync_duration_seconds', help: 'Time to write one WAL group commit and, with --fsync always, fdatasync it.', labelNames: [], buckets, registry }).series();
  const walRecords = new Counter({ name: 'hotvec_wal_synced_records_total', help: 'WAL records made durable.', registers });
  const walBytes = new Counter({ name: 'hotvec_wal_synced_bytes_total', help: 'WAL bytes written in group commits.', registers });
  const flushRetries = new Counter({ name: 'hotvec_write_behind_retries_total', help: 'Failed write-behind batches to Chroma that were retried.', registers });
  const alerts = new Counter({ name: 'hotvec_sla_alerts_total', help: 'SLA alert transitions, by objective and the status moved to.', labelNames: ['objective', 'to'] as const, registers });

  const gauge = (name: string, help: string, read: (set: (v: number) => void) => void): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        read((v) => this.set(v));
      },
    });
  };
  const wb = (): ReturnType<NonNullable<MetricsSources['writeBehind']>> | undefined => o.sources().writeBehind?.();
  gauge('hotvec_write_behind_ops', 'Write operations acknowledged but not yet confirmed by Chroma.', (set) => set(wb()?.ops ?? 0));
  gauge('hotvec_write_behind_records', 'Records in those operations.', (set) => set(wb()?.records ?? 0));
  gauge('hotvec_write_behind_oldest_age_seconds', 'Age of the oldest write not yet confirmed by Chroma.', (set) => set((wb()?.oldestAgeMs ?? 0) / 1000));
  new Gauge({
    name: 'hotvec_write_behind_state',
    help: 'State of the Chroma tier as the write-behind flusher sees it: 1 for the current state.',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const state = wb()?.state;
      for (const s of WRITE_BEHIND_STATES) this.set({ state: s }, s === state ? 1 : 0);
    },
  });
  gauge('hotvec_index_shared_bytes', 'Bytes of the shared vector arena (WebAssembly memory, grows only).', (set) => set(o.sources().index?.().sharedBytes ?? 0));
  gauge('hotvec_index_used_bytes', 'Bytes of the arena held by collections.', (set) => set(o.sources().index?.().usedBytes ?? 0));
  gauge('hotvec_pool_queue_size', 'Query vectors waiting for a free worker.', (set) => set(o.sources().pool?.().queueSize ?? 0));
  gauge('hotvec_pool_utilization_ratio', "Share of the pool workers' time since the start they were busy: Piscina's tasks and the query port's requests.", (set) => set(o.sources().pool?.().utilization ?? 0));

  const cache = (): CacheStats | undefined => o.sources().cache?.();
  // The cache keeps running totals; a counter follows them by increments (and restarts if they do).
  const counterFromTotal = (name: string, help: string, pick: (s: CacheStats) => number): void => {
    let seen = 0;
    new Counter({
      name,
      help,
      registers,
      collect() {
        const s = cache();
        if (!s) return;
        const v = pick(s);
        if (v < seen) {
          this.reset();
          seen = 0;
        }
        this.inc(v - seen);
        seen = v;
      },
    });
  };
  counterFromTotal('hotvec_cache_hits_total', 'Query cache hits.', (s) => s.hits);
  counterFromTotal('hotvec_cache_misses_total', 'Query cache misses.', (s) => s.misses);
  counterFromTotal('hotvec_cache_not_admitted_total', 'Query cache misses not kept because the query had not been seen before.', (s) => s.notAdmitted ?? 0);
  gauge('hotvec_cache_hit_ratio', 'Query cache hits / lookups since start.', (set) => {
    const s = cache();
    set(s && s.hits + s.misses > 0 ? s.hits / (s.hits + s.misses) : 0);
  });
  gauge('hotvec_cache_bytes', 'Bytes held by the query cache.', (set) => set(cache()?.bytes ?? 0));
  gauge('hotvec_cache_entries', 'Entries in the query cache.', (set) => set(cache()?.entries ?? 0));

  gauge('hotvec_sla_overall_status', 'Overall SLA status: 0 ok, 1 warning, 2 breach.', (set) => {
    const r = o.report();
    if (r) set(STATUS_VALUE[r.status]);
  });
  new Gauge({
    name: 'hotvec_sla_status',
    help: 'SLA status per objective: 0 ok, 1 warning, 2 breach.',
    labelNames: ['objective'] as const,
    registers,
    collect() {
      for (const obj of o.report()?.objectives ?? []) this.set({ objective: obj.name }, STATUS_VALUE[obj.status]);
    },
  });
  new Gauge({
    name: 'hotvec_sla_burn_rate',
    help: 'Error-budget burn rate per objective and window (1 = the budget lasts exactly its period).',
    labelNames: ['objective', 'window'] as const,
    registers,
    collect() {
      for (const obj of o.report()?.objectives ?? []) for (const [window, v] of Object.entries(obj.burnRates)) this.set({ objective: obj.name, window }, v);
    },
  });
  new Gauge({
    name: 'hotvec_sla_error_budget_remaining_ratio',
    help: 'Share of the one-hour error budget left, per objective.',
    labelNames: ['objective'] as const,
    registers,
    collect() {
      for (const obj of o.report()?.objectives ?? []) this.set({ objective: obj.name }, obj.budgetRemaining);
    },
  });
  new Gauge({
    name: 'hotvec_request_latency_window_seconds',
    help: 'Request latency percentiles over sliding windows (HDR histograms, all transports, 5xx excluded).',
    labelNames: ['op', 'window', 'quantile'] as const,
    registers,
    collect() {
      this.reset();
      const r = o.report();
      if (!r) return;
      for (const window of LATENCY_WINDOW_NAMES) {
        for (const [op, l] of Object.entries(r.latency[window])) {
          if (l.count - l.errors <= 0) continue;
          this.set({ op, window, quantile: '0.5' }, l.p50 / 1000);
          this.set({ op, window, quantile: '0.95' }, l.p95 / 1000);
          this.set({ op, window, quantile: '0.99' }, l.p99 / 1000);
          this.set({ op, window, quantile: '0.999' }, l.p999 / 1000);
        }
      }
    },
  });

  return { registry, requests, poolWait, poolRun, walSync, walRecords, walBytes, flushRetries, alerts };
}
