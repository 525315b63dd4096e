/**
 * Epoch-based reclamation for slots and chunks that workers may still be reading.
 * Every pool task `enter()`s before it is dispatched and `exit()`s once its result was used;
 * `retire(fn)` runs `fn` only after every task that entered before the retirement has exited.
 * Main thread only: no atomics needed, the workers never touch this.
 */
export class Reclaimer {
  private epoch = 0;
  /** epoch → tasks that entered at that epoch and are still running. */
  private readonly active = new Map<number, number>();
  private readonly retired: { epoch: number; fn: () => void }[] = [];

  enter(): number {
    const e = this.epoch;
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

  retire(fn: () => void): void {
    this.retired.push({ epoch: this.epoch, fn });
    this.epoch++;
    this.drain();
  }

  /** Retirements still waiting for readers. */
  get pending(): number {
    return this.retired.length;
  }

  private drain(): void {
    if (this.retired.length === 0) return;
    let oldest = Infinity;
    for (const e of this.active.keys()) if (e < oldest) oldest = e;
    let i = 0;
    while (i < this.retired.length && this.retired[i]!.epoch < oldest) i++;
    if (i === 0) return;
    const ready = this.retired.splice(0, i);
    // One failing callback must not cost the others their release.
    let failure: unknown;
    for (const r of ready) {
      try {
        r.fn();
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
  }
}
