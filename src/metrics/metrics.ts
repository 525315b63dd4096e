/**
 * The engine's observability in one object. The server, the pool and the WAL call its
 * `observe*` functions (cheap: native-bench/metrics.ts measures them); every `intervalMs` a
 * tick slides the windows, samples the write-behind lag, evaluates the SLA, turns status
 * changes into alert events (emitted, POSTed to the webhook, pushed to subscribers) and
 * pushes a snapshot to subscribers. `slaReport()` serves `GET /v1/sla`, `prometheus()` serves
 * `GET /metrics`. It imports nothing of the engine: what it reads comes in as callbacks.
 */
import { EventEmitter } from 'node:events';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { AlertTracker, type AlertEvent } from './alerts.js';
import { buildReport, dashboardPoint } from './evaluation.js';
import { History } from './history.js';
import { createPromMetrics, type PromMetrics } from './prometheus.js';
import { Recorder, type Transport } from './recorder.js';
import type { SlaReport, SlaTopicEvent } from './report.js';
import { engaged, objectiveSpecs, type Engaged, type ObjectiveName, type ObjectiveSpec, type SlaTargets } from './sla.js';
import type { CacheStats, MetricsSources } from './sources.js';
import { WebhookSender, type WebhookOptions } from './webhook.js';

export type { Transport } from './recorder.js';

export interface MetricsOptions {
  targets: SlaTargets;
  /** How often the SLA is evaluated, the lag sampled and snapshots pushed (ms). */
  intervalMs?: number;
  /** POST alert events here. */
  webhook?: WebhookOptions;
  /** prom-client's default process and Node.js metrics (default true). */
  defaultMetrics?: boolean;
  /** Monotonic clock in ms; tests drive time with it. */
  now?: () => number;
}

export interface MetricsEvents {
  alert: [AlertEvent];
  'webhook-failed': [{ error: string; attempts: number }];
  'webhook-dropped': [{ dropped: number }];
}

/** How long a status other than breach must hold before its alert goes out. */
export const ALERT_CONFIRM_MS = 5000;

/** Receives topic events; see `subscribe`. */
export type TopicListener = (event: SlaTopicEvent, data: unknown) => void;

export class Metrics extends EventEmitter<MetricsEvents> {
  readonly targets: Readonly<SlaTargets>;
  readonly intervalMs: number;
  private readonly prom: PromMetrics;
  private readonly specs: ObjectiveSpec[];
  private readonly recorder: Recorder;
  private sources: MetricsSources = {};
  private readonly alerts: AlertTracker;
  private readonly history = new History();
  private readonly subscribers = new Set<TopicListener>();
  private readonly webhook: WebhookSender | undefined;
  private readonly eventLoop: IntervalHistogram;
  private eventLoopP99Ms = 0;
  private timer: NodeJS.Timeout | undefined;
  private latest: SlaReport | undefined;
  private lastCache: CacheStats | undefined;
  /** What alerted at the last tick: it goes on alerting while it burns, below the minimum event count too. */
  private readonly engaged = new Map<ObjectiveName, Engaged>();

  constructor(options: MetricsOptions) {
    super();
    const t = options.targets;
    const positive = (name: string, v: number): void => {
      if (!(Number.isFinite(v) && v > 0)) throw new TypeError(`SLA target ${name} must be a positive number, got ${v}`);
    };
    positive('queryP99Ms', t.queryP99Ms);
    positive('queryP95Ms', t.queryP95Ms);
    positive('errorRatio', t.errorRatio);
    positive('writeLagMs', t.writeLagMs);
    if (!(t.errorRatio < 1)) throw new TypeError(`SLA target errorRatio must be below 1, got ${t.errorRatio}`);
    if (!(t.writeLagCompliance > 0 && t.writeLagCompliance < 1)) throw new TypeError(`writeLagCompliance must be between 0 and 1 (exclusive), got ${t.writeLagCompliance}`);
    if (t.minEvents !== undefined && !(Number.isInteger(t.minEvents) && t.minEvents >= 0)) throw new TypeError(`SLA minEvents must be a whole number >= 0, got ${t.minEvents}`);
    this.targets = Object.freeze({ ...t });
    this.intervalMs = options.intervalMs ?? 1000;
    if (!(this.intervalMs >= 10)) throw new TypeError(`intervalMs must be >= 10, got ${this.intervalMs}`);
    this.specs = objectiveSpecs(t);
    this.alerts = new AlertTracker(Math.max(1, Math.round(ALERT_CONFIRM_MS / this.intervalMs)));
    this.prom = createPromMetrics({
      targetsSeconds: [t.queryP95Ms / 1000, t.queryP99Ms / 1000],
      defaultMetrics: options.defaultMetrics ?? true,
      sources: () => this.sources,
      report: () => this.latest,
    });
    this.recorder = new Recorder(this.prom, [t.queryP95Ms * 1000, t.queryP99Ms * 1000], options.now ?? (() => performance.now()));
    if (options.webhook) {
      this.webhook = new WebhookSender(options.webhook);
      this.webhook.on('failed', (e) => this.emit('webhook-failed', e));
      this.webhook.on('dropped', (e) => this.emit('webhook-dropped', e));
    }
    this.eventLoop = monitorEventLoopDelay({ resolution: 20 });
  }

  get registry(): PromMetrics['registry'] {
    return this.prom.registry;
  }

  /** The server's RequestObserver: once per answered request. */
  readonly observeRequest = (op: string, transport: Transport, status: number, seconds: number): void => {
    this.recorder.request(op, transport, status, seconds);
  };

  /** The pool's per-task hook: queue wait and worker run time of one query task. */
  readonly observePoolTask = (waitSeconds: number, runSeconds: number): void => {
    this.recorder.stages.pool_queue_wait.record(waitSeconds);
    this.recorder.stages.pool_run.record(runSeconds);
  };

  /** The WAL's 'sync' event: one group commit written (and fdatasynced under --fsync always). */
  readonly observeWalSync = (e: { records: number; bytes: number; seconds: number }): void => {
    this.recorder.stages.wal_sync.record(e.seconds);
    this.prom.walRecords.inc(e.records);
    this.prom.walBytes.inc(e.bytes);
  };

  readonly observeFlushRetry = (): void => {
    this.prom.flushRetries.inc();
  };

  /** Where gauges and the SLA read the write-behind lag, the arena, the pool and the cache. */
  attach(sources: MetricsSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** Starts the evaluation timer and the event-loop monitor. */
  start(): void {
    if (this.timer) return;
    this.eventLoop.enable();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.eventLoop.disable();
    this.webhook?.close();
    this.subscribers.clear();
  }

  /** Resolves once queued webhook posts are delivered or given up. */
  webhookSettled(): Promise<void> {
    return this.webhook?.settled() ?? Promise.resolve();
  }

  /**
   * Subscribes to topic "sla": at once a 'history' event ({points, targets}), then a
   * 'snapshot' ({report, point}) every tick and an 'alert' (AlertEvent) per transition.
   * Returns the unsubscribe function.
   */
  subscribe(listener: TopicListener): () => void {
    this.subscribers.add(listener);
    this.deliver(listener, 'history', { points: this.history.all(), targets: this.targets });
    return () => this.subscribers.delete(listener);
  }

  /** One evaluation: slide, sample, evaluate, alert, push. The timer calls it; tests may too. */
  tick(): SlaReport {
    this.advance();
    const wb = this.sources.writeBehind?.();
    if (wb) this.recorder.sampleLag(wb.oldestAgeMs, this.targets.writeLagMs);
    const report = this.build(wb);
    this.latest = report;
    for (const o of report.objectives) this.engaged.set(o.name, engaged(o));
    for (const e of this.alerts.update(report.objectives, report.status, new Date(report.generatedAt))) {
      this.prom.alerts.inc({ objective: e.objective, to: e.to });
      this.emit('alert', e);
      this.webhook?.send(e);
      this.push('alert', e);
    }
    const cache = this.sources.cache?.();
    const point = dashboardPoint(report, this.recorder.rates().errors, cache, this.lastCache);
    this.lastCache = cache ? { ...cache } : undefined;
    this.history.push(point);
    this.push('snapshot', { report, point });
    return report;
  }

  /** A fresh evaluation for `GET /v1/sla` (alert state, and what goes on alerting below the minimum event count, move only on ticks). */
  slaReport(): SlaReport {
    this.advance();
    return this.build(this.sources.writeBehind?.());
  }

  /** The text exposition for `GET /metrics`. */
  async prometheus(): Promise<{ contentType: string; body: string }> {
    this.latest = this.slaReport();
    return { contentType: this.prom.registry.contentType, body: await this.prom.registry.metrics() };
  }

  private advance(): void {
    if (this.recorder.advance() === 0) return;
    // The event-loop delay is reported per closed slot (the last 10 s).
    if (this.eventLoop.count > 0) this.eventLoopP99Ms = this.eventLoop.percentile(99) / 1e6;
    this.eventLoop.reset();
  }

  private build(wb: ReturnType<NonNullable<MetricsSources['writeBehind']>> | undefined): SlaReport {
    const eventLoopDelayP99Ms = this.eventLoopP99Ms || (this.eventLoop.count > 0 ? this.eventLoop.percentile(99) / 1e6 : 0);
    return buildReport({ recorder: this.recorder, specs: this.specs, sources: this.sources, eventLoopDelayP99Ms, engaged: this.engaged }, wb);
  }

  private push(event: SlaTopicEvent, data: unknown): void {
    for (const l of this.subscribers) this.deliver(l, event, data);
  }

  private deliver(listener: TopicListener, event: SlaTopicEvent, data: unknown): void {
    try {
      listener(event, data);
    } catch {
      // A subscriber that throws (a socket gone bad) must not stop the others or the tick.
      this.subscribers.delete(listener);
    }
  }
}
