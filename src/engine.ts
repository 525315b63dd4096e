/**
 * Wires the engine together and owns its lifecycle: data lock → Chroma (managed or remote)
 * → WAL → shared index + worker pool → HTTP/WebSocket server (answering 503 while
 * recovering) → recovery → ready. `close()` is the graceful stop; inner parts emit events
 * and only the process entry logs them.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { addCacheStats, queryCacheFor } from './cache/query-cache.js';
import type { Config } from './config.js';
import { HotvecError, errorMessage } from './errors.js';
import { GraphBuilder } from './graph/builder.js';
import { Indexer, type IndexerEvents } from './graph/indexer.js';
import type { AlertEvent } from './metrics/alerts.js';
import { Metrics } from './metrics/metrics.js';
import { readCheckpoint, writeCheckpoint } from './persist/checkpoint.js';
import { ChromaTier } from './persist/chroma-tier.js';
import { DataLock } from './persist/data-lock.js';
import { WriteBehindFlusher } from './persist/flusher.js';
import { ManagedChroma } from './persist/managed-chroma.js';
import { assertPortFree } from './server/port-probe.js';
import { recover, type RecoveryProgress, type RecoveryReport } from './persist/recovery.js';
import { Snapshots } from './persist/snapshot.js';
import { SnapshotScheduler, type SnapshotSchedulerEvents } from './persist/snapshot-scheduler.js';
import { Wal } from './persist/wal.js';
import { ExternalGarbage, type CollectedEvent } from './platform/external-garbage.js';
import { QueryPool, scratchSlotsFor } from './pool/pool.js';
import { EngineStatus, STATUS_WORDS, StatusWord } from './query-port/messages.js';
import { MainRelay } from './query-port/relay.js';
import { PortHold } from './query-port/port-hold.js';
import { cannotListen } from './server/port-probe.js';
import { loadUws } from './server/uws.js';
import { registerObservabilityRoutes } from './server/observability-routes.js';
import { Server, type RequestObserver } from './server/server.js';
import type { ServiceContext } from './service/index.js';
import { VectorIndex } from './vector-index/vector-index.js';

/** Least wait for threads still loading their module at shutdown, even past the shutdown timeout. */
const MIN_LOAD_WAIT_MS = 1000;
/** How long the start waits for every query worker to report listening on the query port. */
const QUERY_PORT_WAIT_MS = 30_000;

export type EngineState = 'starting' | 'recovering' | 'ok' | 'stopping' | 'stopped';

export interface EngineEvents {
  state: [EngineState];
  'chroma-started': [{ url: string; managed: boolean; seconds: number }];
  'recovery-progress': [RecoveryProgress];
  recovered: [RecoveryReport];
  /** `queryPort`: the port the query workers answer queries on, when configured. */
  listening: [{ host: string; port: number; uws: string; queryPort?: number }];
  'service-error': [HotvecError];
  'flush-retry': [{ error: unknown; attempt: number; delayMs: number }];
  'flusher-state': [string];
  warning: [string];
  /** Long start-up steps (fetching the Chroma runtime, waiting for Chroma). */
  progress: [string];
  /** A segment was sealed into an HNSW graph, or segments were merged. */
  'index-built': IndexerEvents['built'];
  /** A local snapshot of the index was written (restarts load it instead of reading Chroma). */
  'snapshot-written': SnapshotSchedulerEvents['written'];
  /** An SLA objective changed status (ok / warning / breach). */
  'sla-alert': [AlertEvent];
  /** An alert could not be POSTed to --sla-webhook-url (after its retries), or was dropped. */
  'sla-webhook-failed': [{ error: string; attempts: number }];
  /** The write-behind drained and went quiet, and V8 collected the buffers it had held (platform/external-garbage.ts). */
  'garbage-collected': [CollectedEvent];
}

export class Engine extends EventEmitter<EngineEvents> {
  state: EngineState = 'starting';
  readonly dataDir: string;
  private lock?: DataLock;
  private chroma?: ManagedChroma;
  private tier?: ChromaTier;
  private wal?: Wal;
  private flusher?: WriteBehindFlusher;
  private index?: VectorIndex;
  private pool?: QueryPool;
  private builder?: GraphBuilder;
  private indexer?: Indexer;
  private snapshots?: SnapshotScheduler;
  private server?: Server;
  private closing?: Promise<void>;
  /** The SCHED_BATCH warning has been logged (once per engine, not per worker). */
  private warnedSched = false;
  /** Read by the query workers (query-port/messages.ts StatusWord). */
  private readonly status = new Int32Array(new SharedArrayBuffer(STATUS_WORDS * 4));
  private relay?: MainRelay;
  /** The query port, held from its choice until the workers listen on it. */
  private portHold?: PortHold;
  /** Collects the write-behind's dead buffers once it is quiet (platform/external-garbage.ts). */
  private readonly garbage = new ExternalGarbage({ onCollected: (e) => this.emit('garbage-collected', e) });
  private boundQueryPort: number | undefined;
  chromaUrl = '';
  /** Latency histograms, SLA evaluation, Prometheus registry (src/metrics). */
  readonly metrics: Metrics;

  constructor(
    readonly config: Config,
    private readonly observe?: RequestObserver,
  ) {
    super();
    this.dataDir = resolve(config.dataDir);
    this.metrics = new Metrics({
      targets: {
        queryP99Ms: config.slaQueryP99Ms,
        queryP95Ms: config.slaQueryP95Ms,
        errorRatio: config.slaErrorRatio,
        writeLagMs: config.slaWriteLagMs,
        writeLagCompliance: config.slaWriteLagCompliance,
        minEvents: config.slaMinEvents,
      },
      intervalMs: config.slaIntervalMs,
      ...(config.slaWebhookUrl ? { webhook: { url: config.slaWebhookUrl } } : {}),
    });
    this.metrics.on('alert', (e) => this.emit('sla-alert', e));
    this.metrics.on('webhook-failed', (e) => this.emit('sla-webhook-failed', e));
    this.metrics.on('webhook-dropped', (e) => this.emit('sla-webhook-failed', { error: `${e.dropped} alert(s) dropped: webhook queue full`, attempts: 0 }));
  }

  private setState(s: EngineState): void {
    this.state = s;
    Atomics.store(this.status, StatusWord.STATUS, s === 'ok' ? EngineStatus.OK : s === 'starting' || s === 'recovering' ? EngineStatus.RECOVERING : EngineStatus.STOPPING);
    this.emit('state', s);
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  /** The query port the workers listen on, when one is configured (and bound). */
  get queryPort(): number | undefined {
    return this.boundQueryPort;
  }

  /** Starts everything; resolves once the server listens. Recovery continues; `ready()` tells when it is done. */
  async start(): Promise<void> {
    const cfg = this.config;
    await mkdir(this.dataDir, { recursive: true });
    this.lock = await DataLock.acquire(this.dataDir);
    // Before the managed Chroma starts (seconds): a port in use ends the start at once.
    await assertPortFree(cfg.host, cfg.port);
    let queryPort: number | undefined;
    if (cfg.queryPort !== undefined) {
      if (cfg.queryPort !== 0 && cfg.queryPort === cfg.port) throw new HotvecError('INVALID_CONFIG', `--query-port must differ from --port (both ${cfg.port})`);
      // The pure-Node fallback can neither share a port between threads nor close its sockets.
      if (loadUws().backend !== 'native') throw new HotvecError('INVALID_CONFIG', `--query-port needs uWebSockets.js's native build, and this Node (ABI ${process.versions.modules}) has only its fallback; set HOTVEC_UWS_MODULE to a native build (README: uWebSockets.js on this and newer Node versions) or leave --query-port unset`);
      // A port another process listens on (a port-sharing one too) is refused here; from then on
      // the port is held until every worker listens on it (port-hold.ts). Every worker binds the
      // same explicit port, so 0 is resolved here, by the hold.
      await assertPortFree(cfg.host, cfg.queryPort);
      const hold = await PortHold.take(loadUws(), cfg.host, cfg.queryPort);
      // A stop that began meanwhile found no hold to let go.
      if (this.closing) {
        hold.release();
        throw new HotvecError('NOT_READY', 'hotvec is stopping');
      }
      this.portHold = hold;
      queryPort = hold.port;
    }

    const t0 = performance.now();
    if (cfg.chromaUrl) {
      this.chromaUrl = cfg.chromaUrl;
    } else {
      this.chroma = await ManagedChroma.start({
        dataDir: join(this.dataDir, 'chroma'),
        port: cfg.chromaPort,
        host: '127.0.0.1',
        startTimeoutMs: cfg.chromaStartTimeoutMs,
        nice: cfg.backgroundNice,
        onProgress: (message) => this.emit('progress', message),
      });
      this.chromaUrl = this.chroma.url;
    }
    this.tier = new ChromaTier({
      url: this.chromaUrl,
      tenant: cfg.chromaTenant,
      database: cfg.chromaDatabase,
      collectionPrefix: cfg.chromaPrefix,
      ...(cfg.chromaAuthToken ? { authToken: cfg.chromaAuthToken } : {}),
    });
    await this.tier.heartbeat();
    this.emit('chroma-started', { url: this.chromaUrl, managed: !cfg.chromaUrl, seconds: (performance.now() - t0) / 1000 });

    const walDir = join(this.dataDir, 'wal');
    this.wal = await Wal.open({ dir: walDir, fsync: cfg.fsync });
    if (this.wal.recovery.detail) this.emit('warning', `WAL recovery: ${this.wal.recovery.detail}`);
    this.wal.on('error', (err: unknown) => this.emit('warning', `WAL failed, writes are refused: ${(err as Error).message}`));
    const checkpoint = await readCheckpoint(this.dataDir);
    if (checkpoint.warning) this.emit('warning', checkpoint.warning);
    if (checkpoint.chromaSeq > this.wal.lastSeq) {
      // The WAL lost records it had (a wiped or replaced wal/ folder): Chroma is the base state,
      // and the checkpoint must not skip the seqs this WAL will now hand out again.
      this.emit('warning', `checkpoint seq ${checkpoint.chromaSeq} is past the WAL's last seq ${this.wal.lastSeq}; resetting the checkpoint`);
      checkpoint.chromaSeq = this.wal.lastSeq;
      await writeCheckpoint(this.dataDir, { chromaSeq: checkpoint.chromaSeq });
    }
    const wal = this.wal;
    const snapshots = new Snapshots(this.dataDir);
    // Until this run writes its own snapshot, the one on disk bounds WAL truncation.
    const diskSnapshotSeq = (await snapshots.manifestSeq()) ?? Infinity;
    this.flusher = new WriteBehindFlusher({
      tier: this.tier,
      maxBatchRecords: cfg.flushBatchRecords,
      intervalMs: cfg.flushIntervalMs,
      confirmedSeq: checkpoint.chromaSeq,
      onCheckpoint: async (seq) => {
        await writeCheckpoint(this.dataDir, { chromaSeq: seq });
        // Records after the local snapshot's seq are needed to restart from it.
        await wal.truncateBefore(Math.min(seq, this.snapshots ? (this.snapshots.seq ?? Infinity) : diskSnapshotSeq) + 1);
      },
    });
    this.flusher.on('retry', (r: { error: unknown; attempt: number; delayMs: number }) => this.emit('flush-retry', r));
    this.flusher.on('state', (s: string) => this.emit('flusher-state', s));
    wal.on('sync', () => this.flusher?.markDurable(wal.durableSeq));
    wal.on('sync', this.metrics.observeWalSync);
    this.flusher.on('retry', this.metrics.observeFlushRetry);
    // Quiet and drained: the upserts' bodies it held are garbage V8 may keep resident for long (platform/external-garbage.ts).
    const writeBehind = this.flusher;
    if (this.garbage.available) writeBehind.on('batch', () => this.garbage.afterQuiet(() => writeBehind.lag().ops === 0));

    this.index = new VectorIndex({
      maxBytes: cfg.maxIndexBytes,
      maxDimension: cfg.maxDimension,
      scratchSlots: scratchSlotsFor(cfg.workers),
      segmentRecords: cfg.segmentRecords,
      defaults: { m: cfg.hnswM, efConstruction: cfg.hnswEfConstruction, efSearch: cfg.hnswEfSearch, storage: cfg.hnswStorage },
      catalog: queryPort !== undefined,
    });
    const record = this.metrics.observeRequest;
    const observe = this.observe;
    const observeRequest: RequestObserver = observe
      ? (op, transport, status, seconds) => {
          record(op, transport, status, seconds);
          observe(op, transport, status, seconds);
        }
      : record;
    const relay = (this.relay =
      queryPort === undefined
        ? undefined
        : new MainRelay(`hotvec:query-port:${randomUUID()}`, {
            observe: (transport, status, seconds) => observeRequest('query', transport, status, seconds),
            onServiceError: (code, message) => this.emit('service-error', new HotvecError(code.replace(/^HOTVEC_/, '') as ConstructorParameters<typeof HotvecError>[0], `query port: ${message}`)),
          }));
    let portWorkers = 0;
    let queryPortUp: { resolve: () => void; reject: (err: Error) => void } | undefined;
    const queryPortListening = new Promise<void>((resolve, reject) => (queryPortUp = { resolve, reject }));
    queryPortListening.catch(() => {}); // awaited below; a failure before then is not unhandled
    this.pool = new QueryPool({
      memory: this.index.arena.memory,
      scratch: this.index.arena.scratch,
      workers: cfg.workers,
      schedBatch: cfg.workerSched === 'batch',
      onWorkerLoaded: ({ schedBatch, queryPort: listening }) => {
        if (listening === false) {
          const err = cannotListen(cfg.host, queryPort!);
          if (portWorkers < cfg.workers) queryPortUp?.reject(err);
          else this.emit('warning', `a respawned query worker could not listen on the query port: ${err.message}`);
        } else if (listening) {
          // One worker holds the port now: the main thread's hold can go (port-hold.ts).
          this.portHold?.release();
          if (++portWorkers === cfg.workers) queryPortUp?.resolve();
        }
        if (cfg.workerSched === 'batch' && !schedBatch && process.platform === 'linux' && !this.warnedSched) {
          this.warnedSched = true;
          this.emit('warning', 'query workers are not under SCHED_BATCH (--worker-sched batch): it could not be set (no chrt at /usr/bin/chrt or /bin/chrt, refused, or a real-time policy already); they keep the policy they have');
        }
      },
      maxQueue: cfg.maxQueue,
      ...(relay && {
        queryPort: {
          relay,
          init: {
            host: cfg.host,
            port: queryPort!,
            maxBodyBytes: cfg.maxBodyBytes,
            maxBatch: cfg.maxBatch,
            maxK: cfg.maxK,
            // Half of --cache-bytes for the workers' caches, split evenly; the main thread's has the other half.
            cacheBytes: Math.floor(cfg.cacheBytes / 2 / cfg.workers),
            cacheAdmission: cfg.cacheAdmission,
            catalogOffset: this.index.catalog!.offset,
            status: this.status.buffer as SharedArrayBuffer,
            relay: relay.name,
          },
        },
      }),
      onTask: this.metrics.observePoolTask,
      onWorkerError: (err) => this.emit('service-error', new HotvecError('INTERNAL', `query worker thread: ${errorMessage(err)}`, { cause: err })),
      onWarning: (message) => this.emit('warning', message),
    });
    const segmentsDir = snapshots.segmentsDir;
    this.builder = new GraphBuilder(this.index.arena.memory, {
      nice: cfg.backgroundNice,
      onWarning: (message) => this.emit('warning', message),
      onWorkerError: (err) => this.emit('service-error', new HotvecError('INTERNAL', `graph builder thread: ${errorMessage(err)}`, { cause: err })),
    });
    const indexer = (this.indexer = new Indexer({
      index: this.index,
      builder: this.builder,
      dir: segmentsDir,
      sealIdleMs: cfg.sealIdleMs,
      sealMinRecords: cfg.sealMinRecords,
      maxSegments: cfg.maxSegments,
      compactDeadRatio: cfg.compactDeadRatio,
      buildThreads: cfg.buildThreads,
    }));
    indexer.on('built', (e) => this.emit('index-built', e));
    indexer.on('error', (err) => this.emit('warning', `indexing: ${err.message}`));
    this.index.onFrozen = () => setImmediate(() => indexer.kick());
    this.index.reclaimer.onError = (err) => this.emit('warning', `releasing retired memory failed: ${(err as Error).message ?? String(err)}`);
    const pool = this.pool;
    // Files of retired segments are deleted by the next snapshot, once no manifest names them.
    this.index.onRetired = (segments) => {
      for (const seg of segments) if (seg.graph) pool.forgetGraph(seg.graph.path);
    };

    const ctx: ServiceContext = {
      config: cfg,
      index: this.index,
      pool: this.pool,
      wal: this.wal,
      flusher: this.flusher,
      cache: queryCacheFor(queryPort === undefined ? cfg.cacheBytes : Math.floor(cfg.cacheBytes / 2), cfg.cacheAdmission),
      indexer,
      ready: () => this.state === 'ok',
    };
    const flusher = this.flusher;
    const index = this.index;
    this.metrics.attach({
      writeBehind: () => ({ ...flusher.lag(), state: flusher.state }),
      index: () => ({ sharedBytes: index.arena.sharedBytes, usedBytes: index.arena.usedBytes }),
      // The query port's requests are the workers' work too.
      pool: () => ({ queueSize: pool.queueSize, utilization: pool.utilization(relay?.busySeconds) }),
      // The main thread's cache counters and the query workers' (query port).
      cache: () => addCacheStats(ctx.cache?.stats(), relay?.cacheStats()),
    });
    this.server = new Server(ctx, {
      host: cfg.host,
      port: cfg.port,
      maxBodyBytes: cfg.maxBodyBytes,
      status: () => (this.state === 'ok' ? 'ok' : this.state === 'stopping' || this.state === 'stopped' ? 'stopping' : 'recovering'),
      observe: observeRequest,
      onServiceError: (e) => this.emit('service-error', e),
      extraRoutes: (app) => registerObservabilityRoutes(app, this.metrics),
      topics: { sla: this.metrics },
    });
    const port = await this.server.listen();
    Atomics.store(this.status, StatusWord.MAIN_PORT, port);
    if (queryPort !== undefined) {
      const timer = setTimeout(() => queryPortUp?.reject(new HotvecError('INTERNAL', `the query workers did not all report listening on port ${queryPort} within ${QUERY_PORT_WAIT_MS} ms`)), QUERY_PORT_WAIT_MS);
      try {
        await queryPortListening;
      } finally {
        clearTimeout(timer);
      }
      this.boundQueryPort = queryPort;
    }
    this.metrics.start();
    this.emit('listening', queryPort === undefined ? { host: cfg.host, port, uws: this.server.uws.backend } : { host: cfg.host, port, uws: this.server.uws.backend, queryPort });

    this.setState('recovering');
    const report = await recover({
      index: this.index,
      tier: this.tier,
      wal: this.wal,
      flusher: this.flusher,
      checkpointSeq: checkpoint.chromaSeq,
      snapshots,
      onProgress: (p) => this.emit('recovery-progress', p),
      onWarning: (w) => this.emit('warning', w),
    });
    this.emit('recovered', report);
    const scheduler = (this.snapshots = new SnapshotScheduler(snapshots, this.index, this.wal, report.snapshot?.seq, async (seq) => {
      await wal.truncateBefore(Math.min(seq, this.flusher?.confirmedSeq ?? 0) + 1);
    }, () => indexer.inProgress));
    scheduler.on('written', (w) => this.emit('snapshot-written', w));
    scheduler.on('error', (err) => this.emit('warning', `writing the local snapshot failed: ${err.message}`));
    indexer.on('built', () => scheduler.request());
    indexer.start();
    scheduler.start(cfg.snapshotIntervalMs);
    if (this.state === 'recovering') this.setState('ok');
  }

  /**
   * For an exit that cannot wait for the graceful stop: stops taking new connections and requests
   * on the main port (503 to those on open connections), waits for threads still loading their
   * module, and has the query workers close their sockets (Node aborts the process when a thread
   * ends with uWS sockets open or mid-load); all within `timeoutMs`.
   */
  async haltNow(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.server?.stopListening();
    this.portHold?.release();
    if (this.state !== 'stopping' && this.state !== 'stopped') this.setState('stopping');
    // Threads still loading their module abort the process if it ends under them (pool/loaded-workers.ts).
    await Promise.all([this.pool?.settleLoading(timeoutMs), this.builder?.settleLoading(timeoutMs)]);
    if (!this.relay || !this.pool) return;
    await this.relay.closeWorkers(this.pool.workerThreads.map((t) => t.threadId), Math.max(0, deadline - Date.now()));
  }

  /**
   * Graceful stop: refuse new work, drain in-flight requests, flush the write-behind queue to
   * Chroma (bounded), close the WAL, stop the managed Chroma. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const timeout = this.config.shutdownTimeoutMs;
    const deadline = Date.now() + timeout;
    const left = (): number => Math.max(0, deadline - Date.now());
    this.setState('stopping');
    this.portHold?.release();
    this.server?.stopListening();
    if (this.server && !(await this.server.drain(left()))) this.emit('warning', 'in-flight requests did not finish before the shutdown timeout');
    this.server?.closeSockets();
    await this.indexer?.close();
    // Both wait (side by side) for their threads still loading their module (see pool/loaded-workers.ts),
    // no longer than the timeout left — but never less than a second, even when it is spent: stopping
    // a thread mid-load aborts the process, worse than a shutdown a little late (a thread loads in ~0.1 s here).
    const loadWait = Math.max(MIN_LOAD_WAIT_MS, left());
    await Promise.all([this.builder?.close(loadWait), this.pool?.close(loadWait)]);
    this.relay?.close();
    this.garbage.close();
    // A last snapshot makes the next start fast (bounded by what is left of the timeout).
    if (this.snapshots) {
      const done = await Promise.race([this.snapshots.close().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), left()).unref())]);
      if (!done) this.emit('warning', 'the final local snapshot did not finish before the shutdown timeout; the next start replays more of the WAL');
    }
    if (this.flusher) {
      const flushed = await this.flusher.flush(left());
      if (!flushed) this.emit('warning', `write-behind queue not fully flushed to Chroma before the shutdown timeout (${JSON.stringify(this.flusher.lag())}); it stays in the WAL and is flushed on next start`);
      await this.flusher.close(0);
    }
    await this.wal?.close();
    await this.chroma?.close();
    await this.lock?.release();
    this.metrics.close();
    this.setState('stopped');
  }
}
