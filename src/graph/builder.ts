/**
 * The main thread's handle on the graph builder: a Piscina pool of at most one thread that
 * gets the shared arena and runs build jobs one at a time, off the request path. The thread
 * exits once idle: a build leaves hundreds of MB of native usearch memory that V8 would only
 * free whenever that isolate next collected garbage, which an idle thread never does.
 */
import { Piscina } from 'piscina';
import type { BuildJob, BuildResult } from './build-job.js';

export class GraphBuilder {
  private readonly piscina: Piscina<BuildJob, BuildResult>;

  constructor(memory: WebAssembly.Memory) {
    this.piscina = new Piscina({
      filename: new URL('./builder-worker.js', import.meta.url).href,
      minThreads: 0,
      maxThreads: 1,
      idleTimeout: 2000,
      concurrentTasksPerWorker: 1,
      workerData: { memory },
    });
  }

  build(job: BuildJob): Promise<BuildResult> {
    return this.piscina.run(job);
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
