/**
 * POSTs alert events as JSON to a webhook, one at a time and in order, off the request
 * path: `send()` only queues. Each event gets up to `attempts` tries (a non-2xx answer or a
 * network error or a timeout is a failure) with doubling backoff; a full queue drops the
 * oldest event. Emits 'delivered' {attempts}, 'failed' {error, attempts} (given up), and
 * 'dropped' {dropped} (queue overflow).
 */
import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface WebhookOptions {
  url: string;
  /** Tries per event, the first included. */
  attempts?: number;
  /** Wait before the second try; doubles after each failure. */
  backoffMs?: number;
  /** Per-try time limit. */
  timeoutMs?: number;
  /** Events waiting beyond which the oldest is dropped. */
  maxQueue?: number;
}

const DEFAULTS = { attempts: 4, backoffMs: 500, timeoutMs: 5000, maxQueue: 100 };

export interface WebhookEvents {
  delivered: [{ attempts: number }];
  failed: [{ error: string; attempts: number }];
  dropped: [{ dropped: number }];
}

export class WebhookSender extends EventEmitter<WebhookEvents> {
  private readonly options: Required<WebhookOptions>;
  private readonly queue: unknown[] = [];
  private running = false;
  private readonly abort = new AbortController();
  private idle: Promise<void> = Promise.resolve();

  constructor(options: WebhookOptions) {
    super();
    this.options = { ...DEFAULTS, ...options };
    const o = this.options;
    if (!/^https?:\/\//.test(o.url)) throw new TypeError(`webhook url must be http(s), got ${o.url}`);
    if (!Number.isInteger(o.attempts) || o.attempts < 1) throw new TypeError(`attempts must be an integer >= 1, got ${o.attempts}`);
    if (!(o.maxQueue >= 1)) throw new TypeError(`maxQueue must be >= 1, got ${o.maxQueue}`);
  }

  send(event: unknown): void {
    if (this.abort.signal.aborted) return;
    this.queue.push(event);
    if (this.queue.length > this.options.maxQueue) {
      this.queue.shift();
      this.emit('dropped', { dropped: 1 });
    }
    if (!this.running) {
      this.running = true;
      this.idle = this.run();
    }
  }

  /** Resolves when every queued event was delivered or given up (for tests and shutdown). */
  settled(): Promise<void> {
    return this.idle;
  }

  /** Stops: drops what is queued and aborts the try in flight. */
  close(): void {
    this.queue.length = 0;
    this.abort.abort();
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0 && !this.abort.signal.aborted) await this.deliver(this.queue.shift());
    } finally {
      this.running = false;
    }
  }

  private async deliver(event: unknown): Promise<void> {
    const { url, attempts, backoffMs, timeoutMs } = this.options;
    const body = JSON.stringify(event);
    let error = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) {
        try {
          await sleep(backoffMs * 2 ** (attempt - 2), undefined, { signal: this.abort.signal, ref: false });
        } catch {
          return; // closed
        }
      }
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.emit('delivered', { attempts: attempt });
          return;
        }
        error = `HTTP ${res.status}`;
      } catch (err) {
        if (this.abort.signal.aborted) return;
        error = (err as Error).message;
      }
    }
    this.emit('failed', { error, attempts });
  }
}
