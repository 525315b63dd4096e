/**
 * The main thread's handle on the graph builder: a one-thread Piscina pool that gets the
 * shared arena once and then runs build jobs one at a time, off the request path.
 */
import { Piscina } from 'piscina';
import type { BuildJob, BuildResult } from './build-job.js';

export class GraphBuilder {
  private readonly piscina: Piscina<BuildJob, BuildResult>;

  constructor(memory: WebAssembly.Memory) {
    this.piscina = new Piscina({
      filename: new URL('./builder-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: 1,
      idleTimeout: Infinity,
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
