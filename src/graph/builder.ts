/**
 * The main thread's handle on the graph builder: a Piscina pool of at most one thread that
 * gets the shared arena and runs build jobs one at a time, off the request path. The thread
 * exits once idle: a build leaves hundreds of MB of native usearch memory that V8 would only
 * free whenever that isolate next collected garbage, which an idle thread never does. It runs
 * at a lower CPU priority than the request path (see platform/priority.ts).
 */
import { Piscina } from 'piscina';
import { LOAD_WAIT_MS, LoadedWorkers } from '../pool/loaded-workers.js';
import type { BuilderInit, BuildJob, BuildResult } from './build-job.js';

export interface GraphBuilderOptions {
  /** The builder thread's nice value (Linux), inherited by usearch's build threads. Default 0. */
  nice?: number;
  /** Longest `close` waits for a builder thread still loading its module (default 10 s; a shorter `close(waitMs)` wins). */
  loadWaitMs?: number;
  /** `close` stopped a builder thread that was still loading its module (its wait ran out). */
  onWarning?: (message: string) => void;
  /** An error of the builder thread outside any build (a build's own error rejects its promise). Without a listener Piscina's 'error' would throw on the main thread. */
  onWorkerError?: (err: Error) => void;
}

export class GraphBuilder {
  private readonly piscina: Piscina<BuildJob, BuildResult>;
  private readonly loaded = new LoadedWorkers();
  private readonly loadWaitMs: number;
  private readonly onWarning: ((message: string) => void) | undefined;
  private closing: Promise<void> | undefined;

  constructor(memory: WebAssembly.Memory, options: GraphBuilderOptions = {}) {
    this.loadWaitMs = options.loadWaitMs ?? LOAD_WAIT_MS;
    this.onWarning = options.onWarning;
    const init: BuilderInit = { memory, nice: options.nice ?? 0, loadedChannel: this.loaded.channel };
    this.piscina = new Piscina({
      filename: new URL('./builder-worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: 2000,
      concurrentTasksPerWorker: 1,
      workerData: init,
    });
    this.piscina.on('error', (err: Error) => options.onWorkerError?.(err));
    this.loaded.watch(this.piscina);
  }

  build(job: BuildJob): Promise<BuildResult> {
    return this.piscina.run(job);
  }

  /** Builder threads that have told they loaded their module (one per start of the thread), for diagnostics and tests. */
  get loadedWorkers(): number {
    return this.loaded.count;
  }

  /** Waits (at most `ms`) for a builder thread still loading its module: the process must not end under it. Resolves how many still were. */
  settleLoading(ms: number): Promise<number> {
    return this.loaded.settle(Math.min(ms, this.loadWaitMs));
  }

  /** Live builder threads (0 or 1). */
  get threads(): number {
    return this.piscina.threads.length;
  }

  /**
   * Waits for a builder thread still loading its module (at most the smaller of `waitMs` and
   * `loadWaitMs`; see pool/loaded-workers.ts for why), then stops it, abandoning a build in
   * progress (its promise rejects). Idempotent: every call gets the first call's promise.
   */
  close(waitMs = Infinity): Promise<void> {
    this.closing ??= this.doClose(Math.min(waitMs, this.loadWaitMs));
    return this.closing;
  }

  private async doClose(waitMs: number): Promise<void> {
    if ((await this.loaded.wait(waitMs)) > 0) this.onWarning?.(`the graph builder thread was still loading its module after ${waitMs} ms; stopping it anyway`);
    await this.piscina.destroy();
  }
}
