/**
 * The one place usearch is loaded, and the mapping from hotvec's metric and storage names to
 * usearch's. usearch 2.25's ESM entry never loads (it searches for its native build from a
 * `file:` URL and recurses until the stack overflows), so the CommonJS entry is required.
 */
import { createRequire } from 'node:module';
import type { Metric } from '../persist/ops.js';
import type { IndexSettings } from '../vector-index/settings.js';

export type Usearch = typeof import('usearch');
export type UsearchIndex = import('usearch').Index;

let loaded: Usearch | undefined;

export function usearch(): Usearch {
  loaded ??= createRequire(import.meta.url)('usearch') as Usearch;
  return loaded;
}

/**
 * usearch's distances are hotvec's: l2 = squared L2, cosine = 1 − cos, ip = 1 − dot.
 */
export function metricKind(metric: Metric): import('usearch').MetricKind {
  const { MetricKind } = usearch();
  return metric === 'l2' ? MetricKind.L2sq : metric === 'cosine' ? MetricKind.Cos : MetricKind.IP;
}

export function scalarKind(storage: IndexSettings['storage']): import('usearch').ScalarKind {
  const { ScalarKind } = usearch();
  return storage === 'f16' ? ScalarKind.F16 : storage === 'i8' ? ScalarKind.I8 : ScalarKind.F32;
}

/** A new, empty usearch index with a collection's settings; `ef` overrides the search expansion. */
export function newIndex(dimension: number, metric: Metric, settings: IndexSettings, ef = settings.efSearch): UsearchIndex {
  const { Index } = usearch();
  return new Index({
    dimensions: dimension,
    metric: metricKind(metric),
    quantization: scalarKind(settings.storage),
    connectivity: settings.m,
    expansion_add: settings.efConstruction,
    expansion_search: ef,
    multi: false,
  });
}
