/**
 * Gives back the memory of buffers that died old, once the write-behind has drained and gone quiet.
 *
 * An upsert's body (1.5 MB for 500 × 784 floats) lives outside V8's heap, and V8 returns it only
 * when it collects the small object that holds it. The write-behind keeps those bodies until
 * Chroma has them, seconds after the acknowledgement, so their holders are promoted to the old
 * generation, which only a major collection clears; V8 starts one when the heap or the external
 * memory grows, and once a bulk load has drained nothing grows. Measured on this machine
 * (60,000 × 784 upserted, query port on): the main thread's external memory stayed at 198 MiB
 * for ~9 s with the server idle, until V8's memory reducer collected it (12 MiB after), and
 * in two of fifteen runs through the whole of a following query load (PSS 608 and 628 MiB
 * against 404–449 MiB).
 *
 * So once the write-behind has been quiet for `quietMs` (no batch went out: a bulk load is over,
 * not a pause between two batches) with nothing queued, the engine asks V8 for a major
 * collection when the external memory is at least `minBytes` and twice what the last one left,
 * at most once per `minIntervalMs` (a quiet time that ends sooner looks again when the interval is
 * over). While batches go out at least once per `quietMs` (a steady load) the quiet time never
 * comes, so no forced collection pauses the main thread in the middle of a load. It
 * needs node's `--expose-gc`, which `npm start` passes; without it this does nothing. The
 * collection is synchronous (on the next turn of the event loop): V8's `execution: 'async'` one,
 * without `--single-threaded-gc`, left the buffers counted as held after it finished.
 */
import { getHeapStatistics } from 'node:v8';

/** V8's `gc()`: a full (major) collection, synchronously. */
type GcFunction = () => void;

export interface ExternalGarbageOptions {
  /** External memory below which no collection is asked for (default 64 MiB). */
  minBytes?: number;
  /** Shortest time between two collections asked for (default 10 s). */
  minIntervalMs?: number;
  /** How long `afterQuiet` waits after the last activity (default 1 s). */
  quietMs?: number;
  /** V8's gc (default: `globalThis.gc`, present with --expose-gc). For tests. */
  gc?: GcFunction | undefined;
  /** The thread's external memory in bytes (default: V8's heap statistics). For tests. */
  externalBytes?: () => number;
  now?: () => number;
  /** Timers for `afterQuiet` (default: node's, unref'd). For tests. */
  timer?: QuietTimer;
  /** After each collection: external memory before and after, and how long the thread was paused. */
  onCollected?: (e: CollectedEvent) => void;
}

export interface CollectedEvent {
  externalBytesBefore: number;
  externalBytesAfter: number;
  pauseMs: number;
}

export interface QuietTimer {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

const nodeTimer: QuietTimer = {
  set: (fn, ms) => setTimeout(fn, ms).unref(),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class ExternalGarbage {
  private readonly minBytes: number;
  private readonly minIntervalMs: number;
  private readonly gc: GcFunction | undefined;
  private readonly externalBytes: () => number;
  private readonly now: () => number;
  /** External memory right after the last collection asked for. */
  private floor = 0;
  private lastAt = -Infinity;
  private running: Promise<void> | undefined;
  private readonly quietMs: number;
  private readonly timer: QuietTimer;
  private quiet: unknown;
  private closed = false;
  private readonly onCollected: ((e: CollectedEvent) => void) | undefined;

  constructor(options: ExternalGarbageOptions = {}) {
    this.minBytes = options.minBytes ?? 64 * 2 ** 20;
    this.minIntervalMs = options.minIntervalMs ?? 10_000;
    this.quietMs = options.quietMs ?? 1000;
    this.timer = options.timer ?? nodeTimer;
    this.onCollected = options.onCollected;
    this.gc = 'gc' in options ? options.gc : (globalThis as { gc?: GcFunction }).gc;
    this.externalBytes = options.externalBytes ?? (() => getHeapStatistics().external_memory);
    this.now = options.now ?? (() => performance.now());
  }

  /** Whether collections can be asked for at all (node runs with --expose-gc). */
  get available(): boolean {
    return this.gc !== undefined;
  }

  /**
   * Activity (a write-behind batch went out): `quietMs` after the last call, if `stillQuiet()`
   * (nothing queued), `collectIfWorthIt`.
   */
  afterQuiet(stillQuiet: () => boolean): void {
    if (!this.gc || this.closed) return;
    this.arm(stillQuiet, this.quietMs);
  }

  private arm(stillQuiet: () => boolean, ms: number): void {
    if (this.quiet !== undefined) this.timer.clear(this.quiet);
    this.quiet = this.timer.set(() => {
      this.quiet = undefined;
      if (!stillQuiet()) return;
      // Too soon after the last collection: look again once the interval is over.
      const wait = this.lastAt + this.minIntervalMs - this.now();
      if (wait > 0) this.arm(stillQuiet, wait);
      else void this.collectIfWorthIt();
    }, ms);
  }

  /** Forgets a pending `afterQuiet`; later ones do nothing. */
  close(): void {
    this.closed = true;
    if (this.quiet !== undefined) this.timer.clear(this.quiet);
    this.quiet = undefined;
  }

  /** Asks for a major collection if it is worth one now; the promise it returns settles when it is done (undefined: not asked). */
  collectIfWorthIt(): Promise<void> | undefined {
    if (!this.gc || this.running) return undefined;
    const now = this.now();
    if (now - this.lastAt < this.minIntervalMs) return undefined;
    if (this.externalBytes() < Math.max(this.minBytes, 2 * this.floor)) return undefined;
    this.lastAt = now;
    const gc = this.gc;
    const running = new Promise<void>((resolve) => {
      setImmediate(() => {
        let collected: CollectedEvent | undefined;
        try {
          const before = this.externalBytes();
          const started = performance.now();
          gc();
          const pauseMs = performance.now() - started;
          this.floor = this.externalBytes();
          collected = { externalBytesBefore: before, externalBytesAfter: this.floor, pauseMs };
        } catch {
          // V8's gc does not throw; if a stand-in did, the next drain tries again.
        }
        this.running = undefined;
        resolve();
        if (collected) this.onCollected?.(collected);
      });
    });
    this.running = running;
    return running;
  }
}
