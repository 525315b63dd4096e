/**
 * What the query port's workers tell the main thread, and what it tells them: request
 * latencies and service errors (for the metrics, the SLA windows and the dashboard, which the
 * main thread keeps), the time they spent answering (the pool's utilisation counts it), the
 * workers' cache counters, and the order to close their listeners.
 *
 * A worker batches its samples: it posts them every FLUSH_MS or when its buffer is full, so the
 * main thread handles one message per batch, not one per request. Latency is measured in the
 * worker, from the request's arrival to its answer written.
 */
import { BroadcastChannel, threadId } from 'node:worker_threads';
import { addCacheStats, type QueryCacheStats } from '../cache/query-cache.js';
import type { HotvecError } from '../errors.js';
import { unref } from '../pool/loaded-workers.js';
import type { Transport } from '../server/server.js';

export const FLUSH_MS = 50;
const TRANSPORTS: readonly Transport[] = ['http', 'ws'];
const SAMPLES = 512;

interface ErrorReport {
  code: string;
  message: string;
}

/** Worker → main (on `${name}:up`). */
export type UpMessage =
  | { kind: 'samples'; threadId: number; samples: Float64Array; busySeconds: number; errors: ErrorReport[]; cache: QueryCacheStats | undefined }
  | { kind: 'closed'; threadId: number };

/** Main → workers (on `${name}:down`). */
export type DownMessage = { kind: 'close' };

const up = (name: string): string => `${name}:up`;
const down = (name: string): string => `${name}:down`;

/** The worker's side. */
export class WorkerRelay {
  private readonly upChannel: BroadcastChannel;
  private readonly downChannel: BroadcastChannel;
  /** Per request: transport (TRANSPORTS index), HTTP status (or the status its error maps to), seconds. */
  private samples = new Float64Array(SAMPLES * 3);
  private count = 0;
  /** Seconds this thread spent on the requests of the batch (their synchronous work, not their wait for the network). */
  private busySeconds = 0;
  private errors: ErrorReport[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    name: string,
    private readonly cacheStats: () => QueryCacheStats | undefined,
    onClose: () => void,
  ) {
    this.upChannel = new BroadcastChannel(up(name));
    this.downChannel = new BroadcastChannel(down(name));
    unref(this.upChannel);
    unref(this.downChannel);
    this.downChannel.onmessage = (event: unknown) => {
      if ((event as { data: DownMessage }).data.kind !== 'close') return;
      this.flush();
      onClose();
      this.reportClosed();
    };
  }

  /**
   * One answered request: its transport, its HTTP status, seconds from arrival to answer written,
   * and the seconds of that this thread was busy with it.
   */
  record(transport: Transport, status: number, seconds: number, busySeconds: number, error?: HotvecError): void {
    const at = this.count * 3;
    this.samples[at] = TRANSPORTS.indexOf(transport);
    this.samples[at + 1] = status;
    this.samples[at + 2] = seconds;
    this.count++;
    this.busySeconds += busySeconds;
    if (error) this.errors.push({ code: error.code, message: error.message });
    if (this.count === SAMPLES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.count === 0 && this.errors.length === 0) return;
    const samples = this.samples.slice(0, this.count * 3);
    this.count = 0;
    const errors = this.errors;
    this.errors = [];
    const busySeconds = this.busySeconds;
    this.busySeconds = 0;
    this.post({ kind: 'samples', threadId, samples, busySeconds, errors, cache: this.cacheStats() });
  }

  /** Says this worker's sockets are closed (on the main thread's order, or on its own: it started while the engine was stopping). */
  reportClosed(): void {
    this.post({ kind: 'closed', threadId });
  }

  private post(message: UpMessage): void {
    this.upChannel.postMessage(message);
  }

  close(): void {
    this.upChannel.close();
    this.downChannel.close();
  }
}

export interface RelayHandlers {
  /** One query a worker answered, as the main port's observer gets it (op 'query'). */
  observe: (transport: Transport, status: number, seconds: number) => void;
  /** A service error (5xx kind) a worker answered, rebuilt with its code and message. */
  onServiceError: (code: string, message: string) => void;
}

/** The main thread's side. */
export class MainRelay {
  private readonly upChannel: BroadcastChannel;
  private readonly downChannel: BroadcastChannel;
  private readonly caches = new Map<number, QueryCacheStats>();
  /** Workers that said they closed (also the ones that did before being told: started while stopping). */
  private readonly closed = new Set<number>();
  private closedWaiters: ((threadId: number) => void)[] = [];
  private busy = 0;

  constructor(
    readonly name: string,
    handlers: RelayHandlers,
  ) {
    this.upChannel = new BroadcastChannel(up(name));
    this.downChannel = new BroadcastChannel(down(name));
    unref(this.upChannel);
    unref(this.downChannel);
    this.upChannel.onmessage = (event: unknown) => {
      const m = (event as { data: UpMessage }).data;
      if (m.kind === 'closed') {
        this.closed.add(m.threadId);
        for (const w of this.closedWaiters) w(m.threadId);
        return;
      }
      for (let i = 0; i < m.samples.length; i += 3) handlers.observe(TRANSPORTS[m.samples[i]!]!, m.samples[i + 1]!, m.samples[i + 2]!);
      this.busy += m.busySeconds;
      for (const e of m.errors) handlers.onServiceError(e.code, e.message);
      if (m.cache) this.caches.set(m.threadId, m.cache);
    };
  }

  /** Seconds the workers have spent answering the query port's requests since the start (reported so far). */
  get busySeconds(): number {
    return this.busy;
  }

  /** A worker is gone: its counters no longer count. */
  forget(threadId: number): void {
    this.caches.delete(threadId);
  }

  /** The workers' cache counters, summed (the last each reported); undefined before any report. */
  cacheStats(): QueryCacheStats | undefined {
    let sum: QueryCacheStats | undefined;
    for (const s of this.caches.values()) sum = addCacheStats(sum, s);
    return sum;
  }

  /**
   * Tells every worker to close its listener and connections, and waits until each of
   * `threadIds` said it did (at most `timeoutMs`). Returns the ids that did not answer.
   */
  async closeWorkers(threadIds: readonly number[], timeoutMs: number): Promise<number[]> {
    const waiting = new Set(threadIds.filter((id) => !this.closed.has(id)));
    if (waiting.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        const waiter = (id: number): void => {
          waiting.delete(id);
          if (waiting.size === 0) done();
        };
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.closedWaiters.push(waiter);
        const message: DownMessage = { kind: 'close' };
        this.downChannel.postMessage(message);
      });
    }
    this.closedWaiters = [];
    return [...waiting];
  }

  close(): void {
    this.upChannel.close();
    this.downChannel.close();
  }
}
