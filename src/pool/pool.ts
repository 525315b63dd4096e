/**
 * The query worker pool (Piscina). Every worker receives the shared arena once at start;
 * a task carries only chunk offsets, graph file paths and the query vectors. Queries wait in
 * the coalescer until a worker is free and then travel together, split into one task per
 * worker (coalescer.ts).
 */
import { BroadcastChannel, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { HotvecError } from '../errors.js';
import type { CollectionTarget } from '../vector-index/collection.js';
import type { ScratchLayout } from '../vector-index/layout.js';
import { ReaderEpochs } from '../vector-index/reader-epochs.js';
import type { SearchOptions } from '../vector-index/scan.js';
import type { QueryPortInit } from '../query-port/messages.js';
import type { MainRelay } from '../query-port/relay.js';
import { QueryCoalescer } from './coalescer.js';
import { LOAD_WAIT_MS, LoadedWorkers, unref } from './loaded-workers.js';
import { GRAPH_CHANNEL, splitSearchReply, type GraphRetired, type SearchReply, type SearchTask, type WorkerInit, type WorkerLoaded } from './messages.js';

export interface SearchAnswer {
  refs: Float64Array;
  distances: Float32Array;
  /** Worker seconds over all the tasks the search was split into. */
  runSeconds: number;
}

export interface QueryPoolOptions {
  memory: WebAssembly.Memory;
  scratch: ScratchLayout;
  workers: number;
  /** Query vectors in progress (waiting, queued or running) beyond which `search` fails fast with OVERLOADED. */
  maxQueue: number;
  kernel?: WorkerInit['kernel'];
  /**
   * Workers run under SCHED_BATCH (Linux), so that waking one for a task does not preempt the
   * main thread (see platform/priority.ts). Default false; the engine sets it from
   * `--worker-sched` (default batch). A respawned worker sets it again (one fork of the process
   * at its start).
   */
  schedBatch?: boolean;
  /** A worker has loaded its module; tells whether it runs under SCHED_BATCH. */
  onWorkerLoaded?: (loaded: WorkerLoaded) => void;
  /**
   * Called once per finished task with the seconds it waited (queue and hand-over to the
   * worker) and the seconds the worker ran it. Must be cheap: it runs on the main thread.
   */
  onTask?: (waitSeconds: number, runSeconds: number) => void;
  /**
   * A worker failed outside a task (e.g. at start-up). Piscina replaces it; without a listener
   * its 'error' event would take the whole process down.
   */
  onWorkerError?: (err: Error) => void;
  /** Something an operator should know that is not an error (a load wait at close that ran out). */
  onWarning?: (message: string) => void;
  /**
   * Workers also serve the query port (query-port/): `init` goes to each, and `relay` is the
   * main thread's side of their channel, through which `close` tells them to close their
   * sockets before they are stopped.
   */
  queryPort?: { init: QueryPortInit; relay: MainRelay };
  /** Longest `close` waits for live workers still loading their module (default 10 s; a shorter `close(waitMs)` wins). */
  loadWaitMs?: number;
}

/** How long `close` waits, in all, for the workers to close their query port sockets. */
const CLOSE_PORT_WAIT_MS = 5000;

/** Scratch slots to reserve for a pool of n workers: respawned workers need fresh ones. */
export const scratchSlotsFor = (workers: number): number => Math.min(256, workers * 2 + 2);

export class QueryPool {
  private readonly piscina: Piscina<SearchTask, SearchReply>;
  private readonly maxQueue: number;
  private readonly onTask: ((waitSeconds: number, runSeconds: number) => void) | undefined;
  private readonly workers: number;
  private readonly memory: WebAssembly.Memory;
  private readonly loadWaitMs: number;
  private readonly channel = new BroadcastChannel(GRAPH_CHANNEL);
  private readonly coalescer = new QueryCoalescer(
    (target, queries, k, options, since) => this.run(target, queries, k, options, since),
    () => this.workers,
  );
  /** Set by the first `close()`: from then on no query is taken. */
  private closing: Promise<void> | undefined;
  private readonly onWorkerError: ((err: Error) => void) | undefined;
  private readonly onWarning: ((message: string) => void) | undefined;
  private readonly loaded: LoadedWorkers<WorkerLoaded>;
  private readonly epochs: ReaderEpochs;
  /** Query vectors submitted and not yet answered (waiting to be coalesced, queued or running). */
  private outstanding = 0;
  private readonly relay: MainRelay | undefined;

  constructor(options: QueryPoolOptions) {
    this.epochs = new ReaderEpochs(options.memory);
    this.loaded = new LoadedWorkers<WorkerLoaded>((message) => {
      // A worker that dies while it searches must not hold every retirement for good: its word
      // is cleared once the thread has exited (not before: Piscina tells it destroys a worker
      // before the thread stops). Safe only because a scratch slot is never claimed twice.
      const worker = this.piscina.threads.find((t) => t.threadId === message.threadId);
      const gone = (): void => {
        this.epochs.clear(message.slot);
        this.relay?.forget(message.threadId);
      };
      if (worker) worker.once('exit', gone);
      else gone(); // gone already
      options.onWorkerLoaded?.(message);
    });
    const init: WorkerInit = { memory: options.memory, scratch: options.scratch, kernel: options.kernel ?? 'wasm', schedBatch: options.schedBatch ?? false, loadedChannel: this.loaded.channel };
    if (options.queryPort) init.queryPort = options.queryPort.init;
    this.relay = options.queryPort?.relay;
    this.maxQueue = options.maxQueue;
    this.loadWaitMs = options.loadWaitMs ?? LOAD_WAIT_MS;
    this.onWorkerError = options.onWorkerError;
    this.onWarning = options.onWarning;
    this.workers = options.workers;
    this.memory = options.memory;
    unref(this.channel);
    this.onTask = options.onTask;
    this.piscina = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      // An idle worker normally blocks in Atomics.wait for its next task; a query-port worker must
      // return to its event loop instead, where its uWS sockets and the relay's channel are served.
      ...(options.queryPort && { atomics: 'async' as const }),
      workerData: init,
    });
    this.piscina.on('error', (err: Error) => this.onWorkerError?.(err));
    this.loaded.watch(this.piscina);
  }

  /**
   * Searches `queries` (nq × dimension) over a collection view. Queries for the same view and
   * options that wait for a worker at the same time travel together (see coalescer.ts), split
   * into one task per worker.
   */
  async search(target: CollectionTarget, queries: Float32Array, k: number, options: SearchOptions = {}): Promise<SearchAnswer> {
    if (this.closing) throw new HotvecError('NOT_READY', 'the query pool is shutting down');
    if (this.outstanding >= this.maxQueue) {
      throw new HotvecError('OVERLOADED', `too many queries in progress (${this.outstanding}); retry later`);
    }
    const rows = queries.length / target.dimension;
    this.outstanding += rows;
    try {
      return await this.coalescer.submit(target, queries, k, options);
    } finally {
      this.outstanding -= rows;
    }
  }

  /** One task; `since` is when its oldest query began to wait (the wait reported to onTask counts from there). */
  private async run(target: CollectionTarget, queries: Float32Array, k: number, options: SearchOptions, since: number): Promise<SearchAnswer> {
    // Queries still waiting in the coalescer when the pool closes (after the engine's drain timed out).
    if (this.closing) throw new HotvecError('NOT_READY', 'the query pool is shutting down');
    const n = (queries.length / target.dimension) * k; // read before the transfer empties `queries`
    const task: SearchTask = { directory: target.directory, queries, k, options, memoryBytes: this.memory.buffer.byteLength };
    const reply = await this.piscina.run(task, { transferList: [queries.buffer as ArrayBuffer] });
    const result = splitSearchReply(reply, n);
    if (this.onTask) this.onTask(Math.max(0, (performance.now() - since) / 1000 - result.runSeconds), result.runSeconds);
    return result;
  }

  /** Tells every worker to drop its views of a retired graph file (no task refers to it any more). */
  forgetGraph(path: string): void {
    if (this.closing) return; // the workers and the channel are gone
    const message: GraphRetired = { forget: path };
    this.channel.postMessage(message);
  }

  /** Query vectors waiting for a free worker (tasks go to Piscina only when a worker is free). */
  get queueSize(): number {
    return this.coalescer.waiting;
  }

  get threads(): number {
    return this.piscina.threads.length;
  }

  /** The live worker threads, for diagnostics and tests only (which threads are this pool's); not to be stopped from outside. */
  get workerThreads(): readonly Worker[] {
    return this.piscina.threads;
  }

  /**
   * Pool utilisation 0..1 since the start, approximate: Piscina's measure (its tasks' time from
   * hand-off to answer, over the workers' time), plus `otherBusySeconds` the workers spent
   * outside tasks (answering the query port's requests) over the same capacity. A task that
   * waited behind a query-port request counts that wait twice, so the sum is capped at 1.
   */
  utilization(otherBusySeconds = 0): number {
    const capacityMs = this.piscina.duration * this.workers;
    return Math.min(1, this.piscina.utilization + (capacityMs > 0 ? (otherBusySeconds * 1000) / capacityMs : 0));
  }

  /** Waits (at most `ms`) for live workers still loading their module: the process must not end under them. Resolves how many still were. */
  settleLoading(ms: number): Promise<number> {
    return this.loaded.settle(Math.min(ms, this.loadWaitMs));
  }

  /** Workers that have told they loaded their module (respawned ones count too; gone ones stay counted). */
  get loadedWorkers(): number {
    return this.loaded.count;
  }

  /**
   * Waits for live workers still loading their module (a respawned one too; at most the smaller
   * of `waitMs` and `loadWaitMs`; a worker that failed at start is gone and not waited for; see
   * loaded-workers.ts for why) and for running and queued tasks (bounded by Piscina's
   * closeTimeout), then stops the workers. A load wait that runs out is reported through
   * `onWarning`. Idempotent: every call gets the first call's promise.
   */
  close(waitMs = Infinity): Promise<void> {
    this.closing ??= this.doClose(Math.min(waitMs, this.loadWaitMs));
    return this.closing;
  }

  private async doClose(waitMs: number): Promise<void> {
    this.channel.close();
    const stillLoading = await this.loaded.wait(waitMs);
    if (stillLoading > 0) this.onWarning?.(`${stillLoading} query worker(s) still loading their module after ${waitMs} ms; stopping them anyway`);
    if (this.relay) {
      // Node aborts the process when a thread stops with uWS sockets open.
      const silent = await this.relay.closeWorkers(this.piscina.threads.map((t) => t.threadId), CLOSE_PORT_WAIT_MS);
      if (silent.length > 0) this.onWarning?.(`query worker(s) ${silent.join(', ')} did not confirm closing the query port within ${CLOSE_PORT_WAIT_MS} ms`);
    }
    await this.piscina.close();
  }
}
