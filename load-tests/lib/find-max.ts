/**
 * `--find-max`: the highest offered rate (open model) at which the SLA still holds. The rate
 * climbs geometrically (`start`, ×`factor` …) with short steps until a step fails, then
 * bisects between the last passing and the first failing rate. If the first step already
 * fails, the rate falls by the same factor until one passes, but not below a tenth of the start
 * (a latency floor above the target fails at every rate, and the steps would only measure noise).
 */

export interface RateSearchOptions {
  start: number;
  /** Growth per step while passing, > 1. */
  factor: number;
  /** Bisection steps after the first failure. */
  bisections: number;
  /** Never offer more than this. */
  maxRate: number;
}

export class RateSearch {
  private lo: number | undefined;
  private hi: number | undefined;
  private pending: number | undefined;
  private bisectionsLeft: number;
  private done = false;

  constructor(private readonly o: RateSearchOptions) {
    if (!(o.factor > 1)) throw new RangeError(`factor must be > 1, got ${o.factor}`);
    this.pending = Math.max(1, Math.round(Math.min(o.start, o.maxRate)));
    this.bisectionsLeft = o.bisections;
  }

  /** The next rate to try, or undefined when the search is over. */
  next(): number | undefined {
    return this.done ? undefined : this.pending;
  }

  /** The highest rate that passed so far. */
  get best(): number | undefined {
    return this.lo;
  }

  record(rate: number, pass: boolean): void {
    if (pass) this.lo = Math.max(this.lo ?? 0, rate);
    else this.hi = Math.min(this.hi ?? Infinity, rate);
    this.pending = this.plan();
    if (this.pending === undefined) this.done = true;
  }

  private plan(): number | undefined {
    const { lo, hi } = this;
    if (hi === undefined) {
      // Still climbing.
      if (lo! >= this.o.maxRate) return undefined;
      return Math.min(this.o.maxRate, Math.max(lo! + 1, Math.round(lo! * this.o.factor)));
    }
    if (lo === undefined) {
      // Everything failed so far: come down.
      const down = Math.floor(hi / this.o.factor);
      return down >= Math.max(1, this.o.start / 10) && down < hi ? down : undefined;
    }
    if (this.bisectionsLeft <= 0) return undefined;
    const mid = Math.round((lo + hi) / 2);
    if (mid <= lo || mid >= hi || hi - lo <= Math.max(1, lo * 0.02)) return undefined;
    this.bisectionsLeft--;
    return mid;
  }
}

export interface FindMaxStep<R> {
  rate: number;
  pass: boolean;
  result: R;
}

/** Runs steps until the search ends; `runStep` runs one rate and says whether it met the SLA. */
export async function findMax<R>(
  options: RateSearchOptions,
  runStep: (rate: number) => Promise<{ pass: boolean; result: R }>,
  onStep?: (step: FindMaxStep<R>) => void,
): Promise<{ best: number | undefined; steps: FindMaxStep<R>[] }> {
  const search = new RateSearch(options);
  const steps: FindMaxStep<R>[] = [];
  for (let rate = search.next(); rate !== undefined; rate = search.next()) {
    const { pass, result } = await runStep(rate);
    const step = { rate, pass, result };
    steps.push(step);
    onStep?.(step);
    search.record(rate, pass);
  }
  return { best: search.best, steps };
}
