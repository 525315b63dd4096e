/**
 * Reusable buffers for HTTP request bodies that decoding copies out of (JSON: the embeddings are
 * scanned into the scan's own memory, everything else becomes strings and numbers), so that a
 * query does not leave a fresh 15 KB buffer behind. Every such buffer is memory outside V8's
 * heap that V8 counts towards starting a full collection: at ~1,100 JSON queries/s over 60,000
 * records the main thread ran a mark-compact every ~0.5 s (4–7 ms pauses, 30–60 ms of marking
 * steps); with bodies in reused buffers, one every few seconds.
 *
 * msgpack bodies are not read into these: msgpackr hands back views into the body (a `bin`
 * embedding, for one), which must not change under a request still using them.
 */

/** Bodies up to this size are read into a reused buffer (a 784-d JSON query is ~15 KB). */
export const POOLED_BODY_BYTES = 64 * 1024;
/** Free buffers kept (one per request whose body is being read at once, beyond that they are let go). */
const KEEP = 64;

export class BodyBuffers {
  private readonly free: ArrayBuffer[] = [];
  /** Buffers handed out and not given back: `give` takes nothing else, and nothing twice. */
  private readonly lent = new WeakSet<ArrayBuffer>();

  /** A buffer of exactly `length` bytes (a view of a pooled one), or undefined when `length` is too large. */
  take(length: number): Buffer | undefined {
    if (length > POOLED_BODY_BYTES) return undefined;
    const buffer = this.free.pop() ?? new ArrayBuffer(POOLED_BODY_BYTES);
    this.lent.add(buffer);
    return Buffer.from(buffer, 0, length);
  }

  /**
   * Takes back the buffer under `view` if `take` lent it (anything else is ignored). The caller
   * must hold no view into it afterwards: the next body is read into it. A body whose request
   * was dropped half-way is never given back; its buffer goes with the garbage.
   */
  give(view: Uint8Array): void {
    const buffer = view.buffer as ArrayBuffer;
    if (!this.lent.delete(buffer)) return;
    if (this.free.length < KEEP) this.free.push(buffer);
  }

  /** Free buffers held (for tests). */
  get idle(): number {
    return this.free.length;
  }
}
