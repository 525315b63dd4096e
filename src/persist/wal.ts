/**
 * The write-ahead log: an ordered, checksummed sequence of opaque payloads, each under a
 * seq number assigned at `append`. A write is acknowledged to a client only after its
 * `durable` promise resolves; recovery replays what the WAL holds after the checkpoint.
 *
 * Group commit: one writer is in flight at a time. Appends that arrive while it runs are
 * queued and go to disk together in the next round, with one writev and (under `always`) one
 * fdatasync, however many there are. The first append of an idle WAL waits one microtask,
 * so appends made in the same tick share a round too. Under 'everysec' a round is only the
 * write; the once-a-second fdatasync runs beside it (see `backgroundSync`).
 *
 * Failure is final: once a write or fdatasync fails the WAL cannot say what reached the
 * disk (after a failed fsync Linux may drop the dirty pages and report success next time),
 * so it rejects everything pending with WAL_FAILED, refuses further appends and emits
 * 'error'. The process should stop and let recovery decide from what is on disk.
 *
 * The on-disk format is described in wal-format.ts.
 */
import { EventEmitter } from 'node:events';
import { mkdir, open, readFile, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { errorMessage, HotvecError } from '../errors.js';
import {
  MAX_PAYLOAD_BYTES,
  SEGMENT_HEADER_BYTES,
  checkSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  scanRecords,
  segmentName,
} from './wal-format.js';
import { fsyncPath } from './fsync.js';
import { recover, type Segment } from './wal-recovery.js';

export type FsyncPolicy = 'always' | 'everysec';

export interface WalOptions {
  /** Folder holding the segment files; created if missing. One WAL per folder. */
  dir: string;
  /**
   * `always`: `durable` resolves after fdatasync, so an acknowledged write survives power loss.
   * `everysec`: `durable` resolves after write(2), and the WAL fdatasyncs once a second; a
   * crash of the process loses nothing, a crash of the machine up to a second of writes.
   */
  fsync: FsyncPolicy;
  /** A new segment file starts once the current one has reached this size. Default 64 MiB. */
  segmentBytes?: number;
}

export interface WalRecovery {
  /** Good records found on disk at open. */
  records: number;
  /** Seq of the last good record; appends continue at lastSeq + 1. */
  lastSeq: number;
  /** Bytes cut from the end of the last good segment (a torn or corrupt tail), plus any unusable last segment removed. */
  truncatedBytes: number;
  /**
   * Files set aside for forensics, never replayed: segments after the damage, renamed to
   * `<name>.<ms>.corrupt`, and the cut tail of a segment whose damage was not a plain torn
   * write (`<name>.tail.<ms>.corrupt`).
   */
  corruptSegments: string[];
  /** One line describing the damage found, for the entry point to log; null when the WAL was clean. */
  detail: string | null;
}

export interface WalRecord {
  seq: number;
  /** A view into a buffer holding a whole segment; copy it if kept long. */
  payload: Uint8Array;
}

/** Payload of the 'sync' and 'fsync' events. */
export interface WalSyncEvent {
  /** Records covered. */
  records: number;
  /** Their framed size on disk. */
  bytes: number;
  /** 'sync': the whole round, write (and fdatasync under 'always'); 'fsync': the fdatasync. */
  seconds: number;
}

const MiB = 1024 * 1024;
const DEFAULTS = Object.freeze({ segmentBytes: 64 * MiB });
/** Large enough for a header and a small record; tests use tiny segments to exercise rolling. */
const MIN_SEGMENT_BYTES = 64;
const EVERYSEC_INTERVAL_MS = 1000;

interface Pending {
  seq: number;
  frame: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface ActiveSegment {
  handle: FileHandle;
  size: number;
  records: number;
}

type State = 'open' | 'closing' | 'closed' | 'destroyed';

const ignore = (): void => {};

function validate(options: WalOptions): Required<WalOptions> {
  const o = { ...DEFAULTS, ...options };
  if (typeof o.dir !== 'string' || o.dir.length === 0) {
    throw new HotvecError('INVALID_CONFIG', `wal.dir must be a non-empty string, got ${JSON.stringify(o.dir)}`);
  }
  if (o.fsync !== 'always' && o.fsync !== 'everysec') {
    throw new HotvecError('INVALID_CONFIG', `wal.fsync must be 'always' or 'everysec', got ${JSON.stringify(o.fsync)}`);
  }
  if (!Number.isSafeInteger(o.segmentBytes) || o.segmentBytes < MIN_SEGMENT_BYTES) {
    throw new HotvecError(
      'INVALID_CONFIG',
      `wal.segmentBytes must be an integer >= ${MIN_SEGMENT_BYTES}, got ${String(o.segmentBytes)}`,
    );
  }
  return Object.freeze(o);
}


/**
 * Events:
 * - 'sync' (WalSyncEvent): after each group commit, once its records are durable under the
 *   policy and their promises resolved; `durableSeq` has moved.
 * - 'fsync' (WalSyncEvent), 'everysec' only: the once-a-second (and closing) fdatasync
 *   finished; the records it covered survive power loss now.
 * - 'error' (HotvecError WAL_FAILED): the WAL failed and refuses appends from now on. Emitted
 *   only when someone listens, so a failure never throws from inside the writer; pending
 *   `durable` promises and the next `append` carry it either way.
 */
export class Wal extends EventEmitter {
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  readonly segmentBytes: number;
  readonly recovery: WalRecovery;

  private readonly segments: Segment[];
  private active: ActiveSegment | null;
  private assignedSeq: number;
  private writtenSeq: number;
  private syncedSeq: number;
  private unsyncedRecords = 0;
  private unsyncedBytes = 0;
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private inFlight: Pending[] = [];
  private writing: Promise<void> | null = null;
  private scheduled = false;
  /** The once-a-second fdatasync of 'everysec', which runs beside the writer, not in its place. */
  private syncing: Promise<void> | null = null;
  private failure: HotvecError | null = null;
  private state: State = 'open';
  private closing: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout | null;

  private constructor(
    options: Required<WalOptions>,
    recovery: WalRecovery,
    segments: Segment[],
    active: ActiveSegment | null,
  ) {
    super();
    this.dir = options.dir;
    this.fsync = options.fsync;
    this.segmentBytes = options.segmentBytes;
    this.recovery = recovery;
    this.segments = segments;
    this.active = active;
    this.assignedSeq = this.writtenSeq = this.syncedSeq = recovery.lastSeq;
    this.timer =
      this.fsync === 'everysec'
        ? setInterval(() => this.backgroundSync(), EVERYSEC_INTERVAL_MS).unref()
        : null;
  }

  /** Opens (or creates) the WAL in `options.dir`, validating every record and cutting any damaged tail. */
  static async open(options: WalOptions): Promise<Wal> {
    const o = validate(options);
    try {
      await mkdir(o.dir, { recursive: true });
      const { recovery, segments, activeSize, activeRecords } = await recover(o.dir);
      let active: ActiveSegment | null = null;
      const last = segments.at(-1);
      if (last !== undefined) {
        active = { handle: await open(join(o.dir, last.name), 'r+'), size: activeSize, records: activeRecords };
      }
      return new Wal(o, recovery, segments, active);
    } catch (err) {
      const reason = errorMessage(err);
      throw new HotvecError('WAL_FAILED', `opening the WAL in ${o.dir} failed: ${reason}`, { cause: err });
    }
  }

  /** The last seq assigned by `append`. */
  get lastSeq(): number {
    return this.assignedSeq;
  }

  /** The first seq the WAL still holds a segment for (records before it were truncated). */
  get firstSeq(): number {
    return this.segments[0]?.firstSeq ?? this.assignedSeq + 1;
  }

  /** Every seq up to this one is fsynced (under `everysec`, durableSeq may be ahead of it). */
  get fsyncedSeq(): number {
    return this.syncedSeq;
  }

  /** Every seq up to this one is durable under the WAL's policy (synced for `always`, written for `everysec`). */
  get durableSeq(): number {
    return this.fsync === 'always' ? this.syncedSeq : this.writtenSeq;
  }

  /** Framed bytes appended but not yet handed to the disk; a caller can shed load on it. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  /**
   * Assigns the next seq to `payload` and queues it. The payload is copied, so the caller may
   * reuse its buffer at once. Throws (rather than returning a rejected promise) when the WAL
   * is closed (NOT_READY) or has failed (WAL_FAILED), so no seq is handed out for a write that
   * cannot happen.
   */
  append(payload: Uint8Array): { seq: number; durable: Promise<void> } {
    if (this.failure !== null) throw this.failure;
    if (this.state !== 'open') throw new HotvecError('NOT_READY', `the WAL in ${this.dir} is ${this.state}`);
    if (!(payload instanceof Uint8Array)) {
      throw new HotvecError('INTERNAL', 'WAL payload must be a Uint8Array');
    }
    if (payload.byteLength > MAX_PAYLOAD_BYTES) {
      throw new HotvecError('PAYLOAD_TOO_LARGE', `a WAL record holds at most ${MAX_PAYLOAD_BYTES} bytes, got ${payload.byteLength}`);
    }
    const seq = ++this.assignedSeq;
    const frame = encodeRecord(seq, payload);
    let resolve!: () => void;
    let reject!: (err: Error) => void;
    const durable = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A caller that drops the promise must not crash the process with an unhandled rejection;
    // the failure still reaches anyone awaiting it, the 'error' event and the next append.
    durable.catch(ignore);
    this.queue.push({ seq, frame, resolve, reject });
    this.queuedBytes += frame.byteLength;
    if (this.writing === null && !this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.kick();
      });
    }
    return { seq, durable };
  }

  /**
   * Records with seq > afterSeq, in order, up to what had been written when the call was
   * made. Meant for recovery, before appends start; do not run `truncateBefore` meanwhile.
   */
  async *replay(afterSeq: number): AsyncGenerator<WalRecord, void, void> {
    const upTo = this.writtenSeq;
    const segments = [...this.segments];
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const nextFirst = segments[i + 1]?.firstSeq ?? Infinity;
      if (nextFirst <= afterSeq + 1) continue;
      if (seg.firstSeq > upTo) break;
      const lastWanted = Math.min(upTo, nextFirst - 1);
      const bytes = await readFile(join(this.dir, seg.name));
      const header = checkSegmentHeader(bytes, seg.firstSeq);
      if (!header.ok) throw this.replayError(seg.name, header.detail);
      let seen = seg.firstSeq - 1;
      const scan = scanRecords(bytes, SEGMENT_HEADER_BYTES, seg.firstSeq);
      for (let r = scan.next(); seen < lastWanted; r = scan.next()) {
        if (r.done) {
          throw this.replayError(seg.name, r.value ? r.value.detail : `ends at seq ${seen}, expected ${lastWanted}`);
        }
        seen = r.value.seq;
        if (seen > afterSeq) yield { seq: seen, payload: r.value.payload };
      }
    }
  }

  /**
   * Deletes whole segment files whose records all have seq < `seq` (they are safely in
   * Chroma). The segment holding `seq` stays, and so does the newest segment even when all
   * of it is older: its name carries the last seq across a restart.
   */
  async truncateBefore(seq: number): Promise<number> {
    let removed = 0;
    while (this.segments.length > 1 && this.segments[1]!.firstSeq <= seq) {
      const [seg] = this.segments.splice(0, 1);
      await unlink(join(this.dir, seg!.name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      removed++;
    }
    if (removed > 0) await fsyncPath(this.dir);
    return removed;
  }

  /**
   * Stops accepting appends, writes and syncs what is queued (under either policy), and
   * closes the file. Idempotent. Rejects only when that final flush fails.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Closes at once; pending `durable` promises reject with WAL_FAILED. */
  destroy(): void {
    if (this.state === 'destroyed' || this.state === 'closed') return;
    this.state = 'destroyed';
    if (this.timer !== null) clearInterval(this.timer);
    const err = new HotvecError('WAL_FAILED', `the WAL in ${this.dir} was destroyed before this write was durable`);
    for (const p of this.inFlight) p.reject(err);
    for (const p of this.queue) p.reject(err);
    this.queue = [];
    this.queuedBytes = 0;
    // FileHandle.close waits for an in-flight write on the handle before closing the fd.
    this.active?.handle.close().catch(ignore);
    this.active = null;
  }

  private async shutdown(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    if (this.timer !== null) clearInterval(this.timer);
    const failedBefore = this.failure;
    if (this.syncing !== null) await this.syncing;
    for (;;) {
      if (this.writing !== null) {
        await this.writing;
        continue;
      }
      if (this.failure !== null || this.state !== 'closing' || !this.kick()) break;
    }
    if (this.state !== 'closing') return; // destroyed meanwhile
    this.state = 'closed';
    const active = this.active;
    this.active = null;
    if (active !== null) {
      try {
        await active.handle.close();
      } catch (err) {
        this.failure ??= new HotvecError('WAL_FAILED', `closing the WAL in ${this.dir} failed: ${String(err)}`, { cause: err });
      }
    }
    if (this.failure !== null && this.failure !== failedBefore) throw this.failure;
  }

  /** Starts a commit round if none is running and there is work; returns whether it started one. */
  private kick(): boolean {
    if (this.writing !== null || this.failure !== null || this.state === 'destroyed' || this.state === 'closed') {
      return false;
    }
    // While closing, a round with nothing queued still syncs what 'everysec' left unsynced.
    if (this.queue.length === 0 && !(this.state === 'closing' && this.unsyncedRecords > 0)) return false;
    this.writing = this.commit().then(() => {
      this.writing = null;
      this.kick();
    });
    return true;
  }

  /** One group-commit round. Never rejects: failures go through `fail`. */
  private async commit(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    this.inFlight = batch;
    const started = performance.now();
    try {
      let bytes = 0;
      if (batch.length > 0) {
        bytes = await this.writeBatch(batch);
        this.writtenSeq = batch.at(-1)!.seq;
        this.unsyncedRecords += batch.length;
        this.unsyncedBytes += bytes;
      }
      let fsynced: WalSyncEvent | null = null;
      if ((this.fsync === 'always' || this.state === 'closing') && this.unsyncedRecords > 0 && this.active !== null) {
        const syncStarted = performance.now();
        await this.active.handle.datasync();
        this.syncedSeq = this.writtenSeq;
        fsynced = { records: this.unsyncedRecords, bytes: this.unsyncedBytes, seconds: (performance.now() - syncStarted) / 1000 };
        this.unsyncedRecords = 0;
        this.unsyncedBytes = 0;
      }
      if (this.state === 'destroyed') return;
      for (const p of batch) p.resolve();
      if (batch.length > 0) {
        this.emit('sync', { records: batch.length, bytes, seconds: (performance.now() - started) / 1000 } satisfies WalSyncEvent);
      }
      if (this.fsync === 'everysec' && fsynced !== null) this.emit('fsync', fsynced);
    } catch (err) {
      this.fail(err, batch);
    } finally {
      this.inFlight = [];
    }
  }

  /** Writes a batch, rolling to new segments as they fill; returns the bytes written. */
  private async writeBatch(batch: Pending[]): Promise<number> {
    let total = 0;
    for (let i = 0; i < batch.length; ) {
      if (this.state === 'destroyed') throw new Error('destroyed while writing');
      let active = this.active;
      if (active === null || (active.size >= this.segmentBytes && active.records > 0)) {
        active = await this.roll(batch[i]!.seq);
      }
      // At least one record per segment, then records while the segment is below its size.
      let j = i;
      let bytes = 0;
      while (j < batch.length && (j === i || active.size + bytes < this.segmentBytes)) {
        bytes += batch[j]!.frame.byteLength;
        j++;
      }
      const frames = batch.slice(i, j).map((p) => p.frame);
      // libuv's writev loops over IOV_MAX-sized chunks and partial writes; a short count here is a real failure.
      const { bytesWritten } = await active.handle.writev(frames, active.size);
      if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
      active.size += bytes;
      active.records += j - i;
      total += bytes;
      i = j;
    }
    return total;
  }

  /**
   * Closes the current segment (synced, so nothing older than the new file is left to the
   * timer) and starts one named after `firstSeq`. 'wx' never overwrites an existing file; the
   * directory is synced so the new file's name survives a crash with its records.
   */
  private async roll(firstSeq: number): Promise<ActiveSegment> {
    const old = this.active;
    if (old !== null) {
      this.active = null;
      try {
        await old.handle.datasync();
      } finally {
        await old.handle.close();
      }
    }
    const name = segmentName(firstSeq);
    const handle = await open(join(this.dir, name), 'wx');
    try {
      if (this.state === 'destroyed') throw new Error('destroyed while starting a segment');
      const header = encodeSegmentHeader(firstSeq);
      const { bytesWritten } = await handle.write(header, 0, header.byteLength, 0);
      if (bytesWritten !== header.byteLength) throw new Error(`short write of the segment header of ${name}`);
      await fsyncPath(this.dir);
    } catch (err) {
      await handle.close().catch(ignore);
      throw err;
    }
    this.segments.push({ firstSeq, name });
    this.active = { handle, size: SEGMENT_HEADER_BYTES, records: 0 };
    return this.active;
  }

  /**
   * 'everysec': syncs what has been written so far while the writer keeps writing, as Redis
   * does, so a second's worth of dirty pages going to disk does not stall every append
   * behind it. Records written meanwhile wait for the next tick. A roll syncs the segment it
   * leaves, so only the active segment needs this.
   */
  private backgroundSync(): void {
    const active = this.active;
    if (this.syncing !== null || this.failure !== null || this.state !== 'open' || active === null) return;
    if (this.unsyncedRecords === 0) return;
    const records = this.unsyncedRecords;
    const bytes = this.unsyncedBytes;
    const seq = this.writtenSeq;
    const started = performance.now();
    this.syncing = active.handle.datasync().then(
      () => {
        this.syncing = null;
        if (this.state === 'destroyed') return;
        this.syncedSeq = Math.max(this.syncedSeq, seq);
        this.unsyncedRecords -= records;
        this.unsyncedBytes -= bytes;
        this.emit('fsync', { records, bytes, seconds: (performance.now() - started) / 1000 } satisfies WalSyncEvent);
      },
      (err: unknown) => {
        this.syncing = null;
        this.fail(err, this.inFlight);
      },
    );
  }

  private fail(err: unknown, batch: Pending[]): void {
    if (this.state === 'destroyed' || this.failure !== null) return;
    const reason = errorMessage(err);
    const failure = new HotvecError('WAL_FAILED', `writing the WAL in ${this.dir} failed: ${reason}`, { cause: err });
    this.failure = failure;
    if (this.timer !== null) clearInterval(this.timer);
    for (const p of batch) p.reject(failure);
    for (const p of this.queue) p.reject(failure);
    this.queue = [];
    this.queuedBytes = 0;
    // Without a listener an 'error' event would throw from inside the writer and crash the
    // process; the failure is already on every pending promise and on the next append.
    if (this.listenerCount('error') > 0) this.emit('error', failure);
  }

  private replayError(name: string, detail: string): HotvecError {
    return new HotvecError('WAL_FAILED', `WAL segment ${join(this.dir, name)} changed since open: ${detail}`);
  }
}
