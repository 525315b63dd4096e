/**
 * Write-behind: copies acknowledged writes from the WAL's order into Chroma, in batches,
 * and moves the checkpoint (the WAL may be trimmed up to it) only after Chroma has them.
 *
 * Rules it keeps:
 *  - Only ops marked durable (in the local WAL) go to Chroma: a write that a crash could
 *    still lose locally must never be visible in Chroma.
 *  - One batch at a time, retried as is until it succeeds, so writes to an id are never
 *    reordered; the checkpoint only moves forward, after every call of the batch is done.
 *  - Within a batch, upserts and deletes on one collection coalesce into one applyBatch:
 *    the last op on each id wins. Creates and drops are separate calls that fence their
 *    collection; different collections are independent, so their calls may interleave.
 *    Replaying from the last checkpoint after a crash mid-batch ends in the same state,
 *    because every tier call is idempotent.
 *
 * Events: 'batch' (BatchEvent) after each checkpoint, 'retry' (RetryEvent) after each
 * failed attempt, 'state' (FlusherState) on each change of health.
 */
import { EventEmitter } from 'node:events';
import { HotvecError } from '../errors.js';
import type { ChromaBatch, ChromaTier } from './chroma-tier.js';
import type { CreateOp, DeleteOp, Metadata, Metric, UpsertOp, WriteOp } from './ops.js';

/** The part of ChromaTier the flusher writes through. */
export type FlusherTier = Pick<ChromaTier, 'createCollection' | 'dropCollection' | 'applyBatch'>;

export interface FlusherOptions {
  tier: FlusherTier;
  /** Records (ids of upserts and deletes) per batch; an op larger than this goes alone. Default 1000. */
  maxBatchRecords?: number;
  /** How long durable writes may wait to be batched with later ones; default 100 ms. */
  intervalMs?: number;
  /** Backoff between attempts: doubles from initialMs up to maxMs, with jitter. Default 100 / 5000 ms. */
  retry?: { initialMs?: number; maxMs?: number };
  /** Consecutive failures after which the state is 'down' rather than 'retrying'; default 5. */
  downAfterFailures?: number;
  /** Called with the last seq of each batch once Chroma holds it; the WAL may drop records up to it. */
  onCheckpoint: (seq: number) => Promise<void>;
  /** The seq Chroma already holds (the checkpoint recovery started from); default 0. */
  confirmedSeq?: number;
}

export type FlusherState = 'healthy' | 'retrying' | 'down';

export interface FlusherLag {
  /** Ops enqueued and not yet checkpointed (durable or not). */
  ops: number;
  records: number;
  /** Age of the oldest such op; 0 when there is none. */
  oldestAgeMs: number;
}

export interface BatchEvent {
  ops: number;
  records: number;
  /** Duration of the successful attempt, tier calls and checkpoint. */
  seconds: number;
  /** The checkpointed seq. */
  seq: number;
}

export interface RetryEvent {
  error: unknown;
  /** 1 for the first failure of this batch. */
  attempt: number;
  delayMs: number;
}

const DEFAULTS = Object.freeze({ maxBatchRecords: 1000, intervalMs: 100, initialMs: 100, maxMs: 5000, downAfterFailures: 5, confirmedSeq: 0 });

type Call =
  | { t: 'create'; collection: string; dimension: number; metric: Metric; index?: CreateOp['index'] }
  | { t: 'drop'; collection: string }
  | { t: 'apply'; collection: string; ops: (UpsertOp | DeleteOp)[] };

interface Batch {
  calls: Call[];
  /** Index of the next call to run: a retry resumes there. */
  next: number;
  lastSeq: number;
  ops: number;
  records: number;
}

interface Queued {
  op: WriteOp;
  records: number;
  at: number;
}

interface FlushWaiter {
  target: number;
  resolve: (done: boolean) => void;
  timer: NodeJS.Timeout;
}

export class WriteBehindFlusher extends EventEmitter {
  readonly #tier: FlusherTier;
  readonly #onCheckpoint: FlusherOptions['onCheckpoint'];
  readonly #maxBatchRecords: number;
  readonly #intervalMs: number;
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #downAfter: number;

  /** Enqueued ops not yet checkpointed; the live part starts at #head. */
  #queue: Queued[] = [];
  #head = 0;
  #queuedRecords = 0;
  /** Queue index of the first op not yet durable, and the records of the durable ops before it. */
  #durableEnd = 0;
  #durableRecords = 0;
  #lastEnqueued: number;
  #durableSeq: number;
  #confirmedSeq: number;

  #batch: Batch | undefined;
  #failures = 0;
  #state: FlusherState = 'healthy';
  /** The one timer: the batching interval, or the backoff after a failure. */
  #timer: NodeJS.Timeout | undefined;
  #timerIsBackoff = false;
  #running = false;
  #waiters: FlushWaiter[] = [];
  #closing = false;
  #stopped = false;
  #closed: Promise<boolean> | undefined;

  constructor(options: FlusherOptions) {
    super();
    const bad = (msg: string): never => {
      throw new HotvecError('INVALID_CONFIG', `flusher: ${msg}`);
    };
    const o = { ...DEFAULTS, ...options, ...options.retry };
    if (!options.tier) bad('tier is required');
    if (typeof options.onCheckpoint !== 'function') bad('onCheckpoint must be a function');
    if (!Number.isInteger(o.maxBatchRecords) || o.maxBatchRecords < 1) bad(`maxBatchRecords must be an integer >= 1, got ${o.maxBatchRecords}`);
    if (!(o.intervalMs >= 0)) bad(`intervalMs must be >= 0, got ${o.intervalMs}`);
    if (!(o.initialMs > 0)) bad(`retry.initialMs must be > 0, got ${o.initialMs}`);
    if (!(o.maxMs >= o.initialMs)) bad(`retry.maxMs must be >= retry.initialMs, got ${o.maxMs}`);
    if (!Number.isInteger(o.downAfterFailures) || o.downAfterFailures < 1) bad(`downAfterFailures must be an integer >= 1, got ${o.downAfterFailures}`);
    if (!Number.isSafeInteger(o.confirmedSeq) || o.confirmedSeq < 0) bad(`confirmedSeq must be a non-negative integer, got ${o.confirmedSeq}`);
    this.#tier = options.tier;
    this.#onCheckpoint = options.onCheckpoint;
    this.#maxBatchRecords = o.maxBatchRecords;
    this.#intervalMs = o.intervalMs;
    this.#initialMs = o.initialMs;
    this.#maxMs = o.maxMs;
    this.#downAfter = o.downAfterFailures;
    this.#lastEnqueued = this.#durableSeq = this.#confirmedSeq = o.confirmedSeq;
  }

  /** The last seq Chroma holds and the checkpoint has recorded. */
  get confirmedSeq(): number {
    return this.#confirmedSeq;
  }

  get state(): FlusherState {
    return this.#state;
  }

  /**
   * Queues an op, in seq order. The op's arrays are kept, not copied: the caller must not
   * modify them afterwards. It goes to Chroma once markDurable() covers its seq.
   */
  enqueue(op: WriteOp): void {
    if (this.#closing || this.#stopped) throw new HotvecError('NOT_READY', 'the write-behind flusher is closed');
    if (!(op.seq > this.#lastEnqueued)) {
      throw new HotvecError('INTERNAL', `flusher: op seq ${op.seq} enqueued after seq ${this.#lastEnqueued}; ops must arrive in increasing seq order`);
    }
    this.#lastEnqueued = op.seq;
    const records = op.t === 'upsert' || op.t === 'delete' ? op.ids.length : 0;
    this.#queue.push({ op, records, at: performance.now() });
    this.#queuedRecords += records;
    this.#advanceDurable();
    this.#kick();
  }

  /** Every op with seq <= `seq` is in the local WAL and may now go to Chroma. */
  markDurable(seq: number): void {
    if (seq <= this.#durableSeq) return;
    this.#durableSeq = seq;
    this.#advanceDurable();
    this.#kick();
  }

  #advanceDurable(): void {
    while (this.#durableEnd < this.#queue.length && this.#queue[this.#durableEnd]!.op.seq <= this.#durableSeq) {
      this.#durableRecords += this.#queue[this.#durableEnd]!.records;
      this.#durableEnd++;
    }
  }

  lag(): FlusherLag {
    const oldest = this.#queue[this.#head];
    return {
      ops: this.#queue.length - this.#head,
      records: this.#queuedRecords,
      oldestAgeMs: oldest ? performance.now() - oldest.at : 0,
    };
  }

  /**
   * Resolves true once every op that is durable now is in Chroma and checkpointed, or false
   * after `timeoutMs`. Skips the batching interval, not a backoff in progress.
   */
  flush(timeoutMs: number): Promise<boolean> {
    const target = this.#durableSeq;
    if (this.#doneUpTo(target)) return Promise.resolve(true);
    if (this.#stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: FlushWaiter = {
        target,
        resolve,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
      this.#kick();
    });
  }

  /**
   * Stops taking ops, flushes what is durable (bounded by `timeoutMs`) and stops. Resolves
   * whether everything durable made it; ops left over are replayed from the WAL next start.
   */
  close(timeoutMs: number): Promise<boolean> {
    this.#closed ??= (async () => {
      this.#closing = true;
      const drained = await this.flush(timeoutMs);
      this.#stop();
      return drained;
    })();
    return this.#closed;
  }

  /** Stops at once; an attempt in flight finishes but is not checkpointed. */
  destroy(): void {
    this.#closing = true;
    this.#stop();
    this.#closed ??= Promise.resolve(false);
  }

  #stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.resolve(false);
    }
    this.#waiters = [];
  }

  // --- scheduling --------------------------------------------------------------------------

  #hasDurableWork(): boolean {
    return this.#durableEnd > this.#head;
  }

  #doneUpTo(seq: number): boolean {
    const head = this.#queue[this.#head];
    return head === undefined || head.op.seq > seq;
  }

  /** Arms the timer if there is durable work: at once when a batch is full or a flush waits. */
  #kick(): void {
    if (this.#stopped || this.#running || !this.#hasDurableWork()) return;
    if (this.#timer && this.#timerIsBackoff) return;
    const now = this.#waiters.length > 0 || this.#durableRecords >= this.#maxBatchRecords;
    if (this.#timer && !now) return;
    this.#arm(now ? 0 : this.#intervalMs, false);
  }

  #arm(delayMs: number, backoff: boolean): void {
    clearTimeout(this.#timer);
    this.#timerIsBackoff = backoff;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#run();
    }, delayMs);
    // The flusher alone does not keep the process alive; flush()/close() waiters do.
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    if (this.#running || this.#stopped) return;
    this.#running = true;
    let next: 'kick' | number = 'kick';
    try {
      this.#batch ??= this.#takeBatch();
      const batch = this.#batch;
      if (!batch) return;
      const started = performance.now();
      while (batch.next < batch.calls.length) {
        await this.#execute(batch.calls[batch.next]!);
        if (this.#stopped) return;
        batch.next++;
      }
      await this.#onCheckpoint(batch.lastSeq);
      if (this.#stopped) return;
      this.#confirm(batch);
      this.#emitSafe('batch', { ops: batch.ops, records: batch.records, seconds: (performance.now() - started) / 1000, seq: batch.lastSeq } satisfies BatchEvent);
    } catch (error) {
      if (this.#stopped) return;
      this.#failures++;
      const attempt = this.#failures;
      const ceiling = Math.min(this.#maxMs, this.#initialMs * 2 ** Math.min(attempt - 1, 30));
      // Half fixed, half random: retries of several engines against one Chroma spread out.
      const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
      this.#setState(attempt >= this.#downAfter ? 'down' : 'retrying');
      this.#emitSafe('retry', { error, attempt, delayMs } satisfies RetryEvent);
      next = delayMs;
    } finally {
      this.#running = false;
      if (!this.#stopped) {
        if (next === 'kick') this.#kick();
        else this.#arm(next, true);
      }
    }
  }

  #confirm(batch: Batch): void {
    this.#queuedRecords -= batch.records;
    this.#durableRecords -= batch.records;
    this.#head += batch.ops;
    // Drop the confirmed prefix now and then, not on every batch (slice copies).
    if (this.#head === this.#queue.length || (this.#head > 1024 && this.#head * 2 > this.#queue.length)) {
      this.#queue = this.#queue.slice(this.#head);
      this.#durableEnd -= this.#head;
      this.#head = 0;
    }
    this.#confirmedSeq = batch.lastSeq;
    this.#batch = undefined;
    this.#failures = 0;
    this.#setState('healthy');
    const done = this.#waiters.filter((w) => this.#doneUpTo(w.target));
    if (done.length > 0) {
      this.#waiters = this.#waiters.filter((w) => !done.includes(w));
      for (const w of done) {
        clearTimeout(w.timer);
        w.resolve(true);
      }
    }
  }

  #setState(state: FlusherState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#emitSafe('state', state);
  }

  /** A throwing listener is a bug elsewhere: surface it, but not inside the flush loop's state changes. */
  #emitSafe(event: string, arg: unknown): void {
    try {
      this.emit(event, arg);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }

  // --- batches -----------------------------------------------------------------------------

  /** A prefix of the durable ops, up to maxBatchRecords records, as an ordered list of tier calls. */
  #takeBatch(): Batch | undefined {
    const calls: Call[] = [];
    /** Per collection, the apply call that later upserts/deletes may still join. */
    const open = new Map<string, Extract<Call, { t: 'apply' }>>();
    let ops = 0;
    let records = 0;
    let lastSeq = 0;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const { op, records: n } = this.#queue[i]!;
      if (op.seq > this.#durableSeq) break;
      if (ops > 0 && records + n > this.#maxBatchRecords) break;
      ops++;
      records += n;
      lastSeq = op.seq;
      if (op.t === 'create' || op.t === 'drop') {
        open.delete(op.collection);
        calls.push(op.t === 'create'
          ? { t: 'create', collection: op.collection, dimension: op.dimension, metric: op.metric, ...(op.index ? { index: op.index } : {}) }
          : { t: 'drop', collection: op.collection });
        continue;
      }
      const call = open.get(op.collection);
      if (call) {
        call.ops.push(op);
      } else {
        const fresh: Extract<Call, { t: 'apply' }> = { t: 'apply', collection: op.collection, ops: [op] };
        open.set(op.collection, fresh);
        calls.push(fresh);
      }
    }
    return ops === 0 ? undefined : { calls, next: 0, lastSeq, ops, records };
  }

  async #execute(call: Call): Promise<void> {
    switch (call.t) {
      case 'create':
        return this.#tier.createCollection(call.collection, { dimension: call.dimension, metric: call.metric, ...(call.index ? { index: call.index } : {}) });
      case 'drop':
        return this.#tier.dropCollection(call.collection);
      case 'apply': {
        const batch = coalesce(call.ops);
        if (batch.deleteIds.length === 0) return;
        return this.#tier.applyBatch(call.collection, batch);
      }
    }
  }
}

/**
 * Folds upserts and deletes on one collection into one delete-then-add: the last op on each
 * id decides whether it ends up present, and with which vector, metadata and document.
 */
export function coalesce(ops: readonly (UpsertOp | DeleteOp)[]): ChromaBatch {
  // One upsert with distinct ids (the engine rejects duplicates) is its own result: no copy.
  const only = ops.length === 1 ? ops[0]! : undefined;
  if (only?.t === 'upsert' && new Set(only.ids).size === only.ids.length) {
    const { ids, embeddings, metadatas, documents } = only;
    return { deleteIds: ids, upserts: { ids, embeddings, ...(metadatas ? { metadatas } : {}), ...(documents ? { documents } : {}) } };
  }
  const last = new Map<string, { op: UpsertOp; row: number } | null>();
  for (const op of ops) {
    if (op.t === 'delete') {
      for (const id of op.ids) last.set(id, null);
    } else {
      op.ids.forEach((id, row) => last.set(id, { op, row }));
    }
  }
  const ids: string[] = [];
  const rows: { op: UpsertOp; row: number }[] = [];
  for (const [id, entry] of last) {
    if (entry) {
      ids.push(id);
      rows.push(entry);
    }
  }
  const first = rows[0];
  const dimension = first ? first.op.embeddings.length / first.op.ids.length : 0;
  const embeddings = new Float32Array(rows.length * dimension);
  rows.forEach(({ op, row }, i) => embeddings.set(op.embeddings.subarray(row * dimension, (row + 1) * dimension), i * dimension));
  const anyMetadata = rows.some((r) => r.op.metadatas !== undefined);
  const anyDocument = rows.some((r) => r.op.documents !== undefined);
  return {
    deleteIds: [...last.keys()],
    upserts: {
      ids,
      embeddings,
      ...(anyMetadata ? { metadatas: rows.map((r): Metadata | null => r.op.metadatas?.[r.row] ?? null) } : {}),
      ...(anyDocument ? { documents: rows.map((r): string | null => r.op.documents?.[r.row] ?? null) } : {}),
    },
  };
}
