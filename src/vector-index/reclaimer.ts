/**
 * Epoch-based reclamation for slots, chunks and segments that readers may still be reading.
 * `retire(fn)` runs `fn` only once every reader that may hold what was retired is done:
 *   - main-thread readers `enter()` and `exit()` (a query from before its dispatch until its
 *     answer was resolved, a snapshot, a graph build's copy);
 *   - other threads pin their epoch in shared memory (reader-epochs.ts) while they read.
 * A retirement held only by other threads is looked at again every POLL_MS (they do not call
 * back); one held by a main-thread reader runs at that reader's `exit`. A retirement that
 * throws (a bug) goes to `onError`, whoever ran it: the `exit` of a query that succeeded or the
 * `retire` after a durable write is not the place for it; the others run anyway.
 */
import { after, type ReaderEpochs } from './reader-epochs.js';

/** How often a retirement held by another thread's pin is looked at again. */
export const POLL_MS = 2;

export interface SharedReaders {
  epochs: ReaderEpochs;
  /** Reader words to look at (the arena's scratch slots). */
  slots: number;
}

export class Reclaimer {
  /** Used without shared readers (tests, tools): the epoch counter lives here. */
  private localEpoch = 1;
  /** epoch → main-thread readers that entered at that epoch and have not exited. */
  private readonly active = new Map<number, number>();
  private readonly retired: { epoch: number; fn: () => void }[] = [];
  private poll: NodeJS.Timeout | undefined;
  /** Gets what a retirement threw (never the bystander that happened to run it). */
  onError: (err: unknown) => void = (err) => process.emitWarning(err instanceof Error ? err : String(err), 'HotvecReclaimerWarning');

  constructor(private readonly shared?: SharedReaders) {}

  enter(): number {
    const e = this.shared ? this.shared.epochs.current : this.localEpoch;
    this.active.set(e, (this.active.get(e) ?? 0) + 1);
    return e;
  }

  exit(epoch: number): void {
    const n = this.active.get(epoch);
    if (n === undefined) throw new Error(`reclaimer: exit(${epoch}) without enter`);
    if (n === 1) this.active.delete(epoch);
    else this.active.set(epoch, n - 1);
    this.drain();
  }

  /** `fn` frees something already unreachable for new readers. */
  retire(fn: () => void): void {
    let epoch: number;
    if (this.shared) epoch = this.shared.epochs.advance();
    else {
      epoch = this.localEpoch;
      this.localEpoch = (this.localEpoch + 2) | 0;
    }
    this.retired.push({ epoch, fn });
    this.drain();
  }

  /** Retirements still waiting for readers. */
  get pending(): number {
    return this.retired.length;
  }

  private heldHere(epoch: number): boolean {
    for (const e of this.active.keys()) if (!after(e, epoch)) return true;
    return false;
  }

  private drain(): void {
    if (this.retired.length === 0) return;
    let i = 0;
    let heldElsewhere = false;
    // Retirements are in epoch order: the first one held holds every later one too.
    for (; i < this.retired.length; i++) {
      const { epoch } = this.retired[i]!;
      if (this.heldHere(epoch)) break;
      if (this.shared?.epochs.holds(epoch, this.shared.slots)) {
        heldElsewhere = true;
        break;
      }
    }
    if (heldElsewhere && !this.poll) {
      this.poll = setTimeout(() => {
        this.poll = undefined;
        this.drain();
      }, POLL_MS);
      this.poll.unref();
    }
    if (i === 0) return;
    const ready = this.retired.splice(0, i);
    // One failing callback must not cost the others their release.
    for (const r of ready) {
      try {
        r.fn();
      } catch (err) {
        this.onError(err);
      }
    }
  }
}
