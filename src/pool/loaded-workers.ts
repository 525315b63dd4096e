/**
 * Which workers of one Piscina pool have loaded their ES module, and a bounded wait until every
 * live one has. Terminating a worker while Node 20 loads its ES module aborts the whole process:
 * while it instantiates the module (V8: "IsGraphAsync must be used on an instantiated module"),
 * and right after it ran it, while require(esm) wraps it in a facade module
 * ("CreateRequiredModuleFacade ... IsJust()"); CI runs hit both stopping hotvec ~0.1 s after it
 * had started. So a pool waits here before it stops its workers.
 *
 * Each worker tells, from the last statement of its module, on a BroadcastChannel of the pool's
 * own (`reportLoaded`, which posts once the loading job has returned); a worker that is gone
 * (failed at start, or exited) is not waited for.
 *
 *   const loaded = new LoadedWorkers();
 *   const piscina = new Piscina({ ..., workerData: { ..., loadedChannel: loaded.channel } });
 *   loaded.watch(piscina);
 *   ...
 *   const stillLoading = await loaded.wait(ms); // then stop the workers
 */
import { randomUUID } from 'node:crypto';
import { BroadcastChannel, threadId } from 'node:worker_threads';
import type { Piscina } from 'piscina';

/** What a worker posts once its module is loaded; a pool may add to it. */
export interface ModuleLoaded {
  threadId: number;
}

/** Default longest wait for workers still loading their module before a pool stops them. */
export const LOAD_WAIT_MS = 10_000;

/** setTimeout's longest delay; a longer one would fire at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Lets the process exit with `channel` open (Node has `unref` on a BroadcastChannel; its types do not). */
export const unref = (channel: BroadcastChannel): void => (channel as unknown as { unref(): void }).unref();

export class LoadedWorkers<M extends ModuleLoaded = ModuleLoaded> {
  /** The BroadcastChannel's name, for the workers' workerData. */
  readonly channel = `hotvec:worker-loaded:${randomUUID()}`;
  private readonly listener = new BroadcastChannel(this.channel);
  /** Thread ids of the workers that have told (gone ones stay). */
  private readonly loaded = new Set<number>();
  private piscina: Piscina | undefined;
  private waiters: (() => void)[] = [];

  /** `onLoaded` gets each worker's message (e.g. to read what the pool added to it). */
  constructor(onLoaded?: (message: M) => void) {
    unref(this.listener);
    this.listener.onmessage = (event: unknown) => {
      const message = (event as { data: M }).data;
      this.loaded.add(message.threadId);
      this.check();
      onLoaded?.(message);
    };
  }

  /** Follows the workers of `piscina`, whose workerData names `channel`. */
  watch(piscina: Piscina): void {
    this.piscina = piscina;
    // Piscina tells before it drops the worker from its list: look once the handler is done.
    piscina.on('workerDestroy', () => queueMicrotask(() => this.check()));
  }

  /** Workers that have told they loaded their module (respawned ones count too; gone ones stay counted). */
  get count(): number {
    return this.loaded.size;
  }

  /** Live workers (respawned ones included) that have not yet told they loaded their module. */
  private stillLoading(): number {
    return this.piscina?.threads.filter((t) => !this.loaded.has(t.threadId)).length ?? 0;
  }

  /**
   * Waits until every live worker has loaded, at most `ms`, then stops listening (a worker
   * started after that is not counted). Resolves how many were still loading: 0 when all had.
   */
  async wait(ms: number): Promise<number> {
    const stillLoading = await this.settle(ms);
    this.listener.close();
    return stillLoading;
  }

  /** As `wait`, but keeps listening (for an exit that is not the pool's close). */
  async settle(ms: number): Promise<number> {
    if (this.stillLoading() > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(ms, MAX_TIMEOUT_MS));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.stillLoading();
  }

  private check(): void {
    if (this.waiters.length > 0 && this.stillLoading() === 0) for (const w of this.waiters.splice(0)) w();
  }
}

/** Kept open for the thread's life: a channel closed right after posting drops the message. */
const reporters: BroadcastChannel[] = [];

/** Worker side: the module is loaded (and instantiated), the pool may terminate this thread safely now. */
export function reportLoaded<M extends ModuleLoaded>(channel: string, message: Omit<M, 'threadId'>): void {
  const reporter = new BroadcastChannel(channel);
  unref(reporter);
  reporters.push(reporter);
  // Not yet: Node 20 loads this module with require(esm), and after the module's last statement it
  // still instantiates a facade module around it; terminating the thread then aborts the process
  // too ("CreateRequiredModuleFacade ... IsJust()", a CI run stopping hotvec 0.15 s after start).
  // A microtask runs once that synchronous require has returned (not a macrotask: Piscina's worker
  // then blocks its event loop in Atomics.wait until its first task).
  queueMicrotask(() => reporter.postMessage({ ...message, threadId }));
}
