/**
 * A Prometheus histogram whose hot path is a few typed-array writes. prom-client's own
 * `observe(labels, v)` hashes the label object on every call (about 0.5 µs measured in
 * native-bench/metrics.ts, more than everything else hotvec records per request); here the
 * caller resolves a label set to a `HistogramSeries` once and keeps it. The registry, the
 * text exposition (escaping, `le` labels, `_bucket`/`_sum`/`_count` lines) stay
 * prom-client's: this object is registered as a metric and answers the registry's `get()`
 * with the values it reads at scrape time, in the shape prom-client's Histogram gives.
 */
import type { Histogram, Registry } from 'prom-client';

export class HistogramSeries {
  /** Observations per bucket, not cumulative; the last one is above every bound (+Inf). */
  readonly buckets: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: Float64Array,
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.buckets = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.buckets[i]!++;
    this.sum += value;
    this.count++;
  }
}

export interface FastHistogramConfig<T extends string> {
  name: string;
  help: string;
  labelNames: readonly T[];
  /** Upper bounds, in the unit of the values; sorted and de-duplicated here. */
  buckets: readonly number[];
  registry: Registry;
}

/** Sorted, unique, finite, positive bounds. */
export function normalizeBuckets(buckets: readonly number[]): number[] {
  return [...new Set(buckets.filter((b) => Number.isFinite(b) && b > 0))].sort((a, b) => a - b);
}

type MetricJson = Awaited<ReturnType<Histogram['get']>>;

export class FastHistogram<T extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly names: readonly T[];
  private readonly all = new Map<string, HistogramSeries>();

  constructor(config: FastHistogramConfig<T>) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(config.name)) throw new TypeError(`invalid metric name ${config.name}`);
    for (const n of config.labelNames) if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(n) || n === 'le') throw new TypeError(`invalid label name ${n}`);
    const buckets = normalizeBuckets(config.buckets);
    if (buckets.length === 0) throw new TypeError('a histogram needs at least one bucket');
    this.name = config.name;
    this.help = config.help;
    this.bounds = Float64Array.from(buckets);
    this.names = config.labelNames;
    config.registry.registerMetric(this as unknown as Histogram);
  }

  /** The series for these label values (in `labelNames` order); keep it, do not call per observation. */
  series(...values: string[]): HistogramSeries {
    if (values.length !== this.names.length) throw new TypeError(`${this.names.length} label values expected, got ${values.length}`);
    const key = values.join('\u0000');
    let s = this.all.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      this.names.forEach((n, i) => (labels[n] = values[i]!));
      s = new HistogramSeries(this.bounds, labels);
      this.all.set(key, s);
    }
    return s;
  }

  /** What the registry reads at scrape time. */
  async get(): Promise<MetricJson> {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.all.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.buckets[i]!;
        values.push({ labels: { ...s.labels, le: this.bounds[i]! }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values } as unknown as MetricJson;
  }

  /** Called by `registry.resetMetrics()`. */
  reset(): void {
    for (const s of this.all.values()) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}
