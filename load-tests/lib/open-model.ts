/**
 * When requests should leave.
 *
 * Open model (`--rate N`): request i is *intended* to leave at `start + i/N` seconds, whatever
 * happened to the ones before it, as the users of a real service would send it. A driver takes
 * the requests that are due (`take`) whenever it has a free connection; one that cannot leave on
 * time waits in the backlog, and its latency is still measured from its intended time. That is
 * the correction for coordinated omission: a server that stalls is charged for every request
 * that would have arrived during the stall, not just the one it was serving (a closed-loop
 * generator quietly stops sending while it waits, and the stall disappears from the numbers).
 *
 * Closed model (`--rate 0`): every connection sends its next request as soon as the previous one
 * is answered; the intended time is the actual send time.
 */

export interface Schedule {
  readonly kind: 'open' | 'closed';
  /** The intended send time of the next request due at `now`, or undefined if none is due. */
  take(now: number): number | undefined;
  /** Requests due at `now` and not yet taken. */
  backlog(now: number): number;
  /** True once no further request will become due. */
  done(now: number): boolean;
  /** Milliseconds until a request not yet due becomes due; undefined when none will. */
  untilNext(now: number): number | undefined;
}

export class OpenSchedule implements Schedule {
  readonly kind = 'open';
  /** Requests the run intends to send: `floor(rate × duration)`. */
  readonly total: number;
  private taken = 0;
  private readonly intervalMs: number;

  constructor(
    readonly rate: number,
    readonly startMs: number,
    durationMs: number,
  ) {
    if (!(rate > 0)) throw new RangeError(`rate must be > 0, got ${rate}`);
    this.total = Math.floor((rate * durationMs) / 1000);
    this.intervalMs = 1000 / rate;
  }

  /** Intended send time of request `i` (0-based). */
  intended(i: number): number {
    return this.startMs + i * this.intervalMs;
  }

  /** How many requests are due by `now` (taken or not). */
  due(now: number): number {
    if (now < this.startMs) return 0;
    return Math.min(this.total, Math.floor((now - this.startMs) / this.intervalMs) + 1);
  }

  take(now: number): number | undefined {
    if (this.taken >= this.due(now)) return undefined;
    return this.intended(this.taken++);
  }

  backlog(now: number): number {
    return this.due(now) - this.taken;
  }

  get sent(): number {
    return this.taken;
  }

  done(): boolean {
    return this.taken >= this.total;
  }

  untilNext(now: number): number | undefined {
    const next = this.due(now);
    if (next >= this.total) return undefined;
    return Math.max(0, this.intended(next) - now);
  }
}

export class ClosedSchedule implements Schedule {
  readonly kind = 'closed';
  private readonly endMs: number;

  constructor(
    readonly startMs: number,
    durationMs: number,
  ) {
    this.endMs = startMs + durationMs;
  }

  take(now: number): number | undefined {
    return now >= this.startMs && now < this.endMs ? now : undefined;
  }

  backlog(): number {
    return 0;
  }

  done(now: number): boolean {
    return now >= this.endMs;
  }

  untilNext(now: number): number | undefined {
    return now < this.startMs ? this.startMs - now : undefined;
  }
}

export function makeSchedule(rate: number, startMs: number, durationMs: number): Schedule {
  return rate > 0 ? new OpenSchedule(rate, startMs, durationMs) : new ClosedSchedule(startMs, durationMs);
}

/**
 * One coarse timer per schedule: wakes the driver (`onDue`) when requests become due, sleeping
 * until the next intended time (Node timers have 1 ms resolution, so a request may leave up to
 * about a millisecond late; that lag is recorded and counted in its latency). The first wake
 * comes at once. Returns a stop function.
 */
export function startPacer(schedule: Schedule, onDue: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const arm = (): void => {
    const wait = schedule.untilNext(performance.now());
    if (wait === undefined || stopped) return;
    // Rounded up: a timer that fires early finds nothing due and costs another full tick.
    timer = setTimeout(fire, Math.max(1, Math.ceil(wait)));
  };
  const fire = (): void => {
    timer = undefined;
    if (stopped) return;
    onDue();
    arm();
  };
  // The first wake is immediate, not at the next intended time: the driver's connections may
  // have asked for work (and been parked) before the start, and the start may have passed
  // while they were being set up; a closed schedule has no "next" time after its start.
  timer = setTimeout(fire, 0);
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
