/**
 * The query worker pool (Piscina). Every worker receives the shared arena once at start;
 * a task carries only chunk offsets and the query vectors.
 */
import { Piscina } from 'piscina';
import { HotvecError } from '../errors.js';
import type { ScanTarget } from '../vector-index/scan.js';
import type { ScratchLayout } from '../vector-index/layout.js';
import { splitSearchReply, type SearchReply, type SearchTask, type WorkerInit } from './messages.js';

export interface QueryPoolOptions {
  memory: WebAssembly.Memory;
  scratch: ScratchLayout;
  workers: number;
  /** Queued tasks beyond which `search` fails fast with OVERLOADED. */
  maxQueue: number;
  kernel?: WorkerInit['kernel'];
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
}

/** Scratch slots to reserve for a pool of n workers: respawned workers need fresh ones. */
export const scratchSlotsFor = (workers: number): number => Math.min(256, workers * 2 + 2);

export class QueryPool {
  private readonly piscina: Piscina<SearchTask, SearchReply>;
  private readonly maxQueue: number;
  private readonly onTask: ((waitSeconds: number, runSeconds: number) => void) | undefined;
  private closed = false;

  constructor(options: QueryPoolOptions) {
    const init: WorkerInit = { memory: options.memory, scratch: options.scratch, kernel: options.kernel ?? 'wasm' };
    this.maxQueue = options.maxQueue;
    this.onTask = options.onTask;
    this.piscina = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      workerData: init,
    });
    this.piscina.on('error', (err: Error) => options.onWorkerError?.(err));
  }

  async search(target: ScanTarget, queries: Float32Array, k: number): Promise<{ slots: Int32Array; distances: Float32Array; runSeconds: number }> {
    if (this.closed) throw new HotvecError('NOT_READY', 'the query pool is shutting down');
    if (this.piscina.queueSize >= this.maxQueue) {
      throw new HotvecError('OVERLOADED', `too many queries waiting (${this.piscina.queueSize}); retry later`);
    }
    const n = (queries.length / target.dimension) * k; // read before the transfer empties `queries`
    const task: SearchTask = { target, queries, k };
    const started = performance.now();
    const reply = await this.piscina.run(task, { transferList: [queries.buffer as ArrayBuffer] });
    const result = splitSearchReply(reply, n);
    if (this.onTask) this.onTask(Math.max(0, (performance.now() - started) / 1000 - result.runSeconds), result.runSeconds);
    return result;
  }

  get queueSize(): number {
    return this.piscina.queueSize;
  }

  get threads(): number {
    return this.piscina.threads.length;
  }

  /** Pool utilisation 0..1 as Piscina measures it. */
  get utilization(): number {
    return this.piscina.utilization;
  }

  /** Waits for running and queued tasks (bounded by Piscina's closeTimeout), then stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.piscina.close();
  }

  async destroy(): Promise<void> {
    this.closed = true;
    await this.piscina.destroy();
  }
}
