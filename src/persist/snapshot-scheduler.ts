/**
 * When local snapshots are taken: after every graph install (seal or merge), every
 * `intervalMs` while writes happen, and once at shutdown. One snapshot is written at a time;
 * requests made meanwhile coalesce into one more. A snapshot names a WAL seq only once that
 * seq is durable, so it never holds a write the WAL could still lose.
 */
import { EventEmitter } from 'node:events';
import type { VectorIndex } from '../vector-index/vector-index.js';
import type { KeepSet, Snapshots } from './snapshot.js';
import type { Wal } from './wal.js';

export interface SnapshotSchedulerEvents {
  written: [{ seq: number; bytes: number; seconds: number }];
  error: [Error];
}

export class SnapshotScheduler extends EventEmitter<SnapshotSchedulerEvents> {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private writesAtLast = -1;
  /** Seq of the newest durable snapshot (the WAL must keep every record after it). */
  seq: number | undefined;

  constructor(
    private readonly snapshots: Snapshots,
    private readonly index: VectorIndex,
    private readonly wal: Wal,
    restoredSeq: number | undefined,
    /** Called after each snapshot, with its seq (the engine truncates the WAL). */
    private readonly onWritten: (seq: number) => Promise<void>,
    /** A segment file being written right now (by the graph builder), which must not be collected. */
    private readonly inProgress: () => { uid: string; serial: number } | null = () => null,
  ) {
    super();
    this.seq = restoredSeq;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      if (this.totalWrites() !== this.writesAtLast) this.request();
    }, intervalMs);
    this.timer.unref();
  }

  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.take()
      .catch((err: unknown) => {
        this.emit('error', err instanceof Error ? err : new Error(String(err)));
      })
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }

  /** Stops the timer and writes a last snapshot (after any running one). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    this.again = false;
    if (this.totalWrites() !== this.writesAtLast || this.seq === undefined) {
      await this.take().catch((err: unknown) => this.emit('error', err instanceof Error ? err : new Error(String(err))));
    }
  }

  private totalWrites(): number {
    let n = 0;
    for (const c of this.index.list()) n += c.writes;
    return n + this.index.list().length;
  }

  private async take(): Promise<void> {
    const started = performance.now();
    const writes = this.totalWrites();
    const seq = this.wal.lastSeq;
    const capture = this.snapshots.capture(this.index, seq);
    let bytes: number;
    try {
      await this.durable(seq);
      // Evaluated by the garbage collection itself, after it listed the folders: segments and
      // builds that appeared meanwhile keep their files.
      const keep = (): Map<string, KeepSet> => {
        const out = new Map<string, KeepSet>();
        for (const c of this.index.list()) out.set(c.uid, { serials: new Set(c.list().map((s) => s.serial)), from: c.serialWatermark });
        const building = this.inProgress();
        if (building) out.get(building.uid)?.serials.add(building.serial);
        return out;
      };
      ({ bytes } = await this.snapshots.write(this.index, capture, keep));
    } finally {
      capture.release();
    }
    this.seq = seq;
    this.writesAtLast = writes;
    await this.onWritten(seq);
    this.emit('written', { seq, bytes, seconds: (performance.now() - started) / 1000 });
  }

  /**
   * Resolves once `seq` is fsynced (not only written: under `--fsync everysec` a snapshot must
   * not get ahead of what a power loss leaves in the WAL); rejects if the WAL fails.
   */
  private durable(seq: number): Promise<void> {
    if (this.wal.fsyncedSeq >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.wal.off('sync', check);
        this.wal.off('fsync', check);
        this.wal.off('error', fail);
      };
      const check = (): void => {
        if (this.wal.fsyncedSeq >= seq) {
          done();
          resolve();
        }
      };
      const fail = (err: unknown): void => {
        done();
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      this.wal.on('sync', check);
      this.wal.on('fsync', check);
      this.wal.on('error', fail);
    });
  }
}
