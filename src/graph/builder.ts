/**
 * The main thread's handle on the graph builder: a Piscina pool of at most one thread that
 * gets the shared arena and runs build jobs one at a time, off the request path. The thread
 * exits once idle: a build leaves hundreds of MB of native usearch memory that V8 would only
 * free whenever that isolate next collected garbage, which an idle thread never does. It runs
 * at a lower CPU priority than the request path (see platform/priority.ts).
 */
import { Piscina } from 'piscina';
import type { BuildJob, BuildResult } from './build-job.js';

export class GraphBuilder {
  private readonly piscina: Piscina<BuildJob, BuildResult>;

  /** `nice`: the builder thread's nice value (Linux), inherited by usearch's build threads. */
  constructor(memory: WebAssembly.Memory, nice = 0) {
    this.piscina = new Piscina({
      filename: new URL('./builder-worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: 2000,
      concurrentTasksPerWorker: 1,
      workerData: { memory, nice },
    });
  }

  build(job: BuildJob): Promise<BuildResult> {
    return this.piscina.run(job);
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
