/**
 * Reads Prometheus text exposition with a real parser (parse-prometheus-text-format, the
 * only one on npm). That parser drops the labels, `_sum` and `_count` of histograms that
 * have labels besides `le` (its issue #13), so samples are read from a second pass in which
 * histogram families are declared untyped: the parser then keeps every `_bucket`, `_sum`
 * and `_count` line with all its labels. The first pass still checks every line's syntax
 * and reports the families with their declared types.
 */
import { createRequire } from 'node:module';

interface RawFamily {
  name: string;
  help: string;
  type: string;
  metrics: { labels?: Record<string, string>; value?: string; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

const parseText = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => RawFamily[];

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  /** Family name → declared type (COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED) and help. */
  families: Map<string, { type: string; help: string }>;
  samples: Sample[];
}

export function parsePrometheus(text: string): ParsedExposition {
  const families = new Map<string, { type: string; help: string }>();
  for (const f of parseText(text)) families.set(f.name, { type: f.type, help: f.help });
  const samples: Sample[] = [];
  for (const f of parseText(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'))) {
    for (const m of f.metrics) {
      if (m.value === undefined) continue;
      samples.push({ name: f.name, labels: m.labels ?? {}, value: Number(m.value) });
    }
  }
  return { families, samples };
}

/** Samples of `name` whose labels include all of `labels`. */
export function select(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}
