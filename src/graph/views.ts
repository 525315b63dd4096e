/**
 * A worker's memory-mapped views of sealed segments' HNSW files. usearch fixes the search
 * expansion (ef) when an index object is made, so a query asking for another ef gets another
 * view of the same file: `view()` maps the file, it copies nothing, and every view of every
 * worker shares the same page-cache pages. Views are kept per (file, ef), least recently used
 * dropped beyond `maxViews`; `forget(path)` drops a retired segment's views at once.
 */
import type { Metric } from '../persist/ops.js';
import type { IndexSettings } from '../vector-index/settings.js';
import { quantizeI8, type I8Quantizer } from './quantize.js';
import { newIndex, type UsearchIndex } from './usearch.js';

export interface GraphHits {
  keys: BigUint64Array;
  distances: Float32Array;
  count: number;
}

export class GraphViews {
  private readonly views = new Map<string, UsearchIndex>();
  /** The query quantised for an i8 graph (reused: one query at a time per worker). */
  private i8 = new Int8Array(0);

  constructor(private readonly maxViews = 64) {}

  /** `quantizer`: how hotvec quantised the graph's vectors to int8 (the query is quantised alike). */
  search(path: string, dimension: number, metric: Metric, settings: IndexSettings, ef: number, query: Float32Array, k: number, quantizer?: I8Quantizer): GraphHits {
    const key = `${ef}\u0000${path}`;
    let view = this.views.get(key);
    if (view) {
      this.views.delete(key);
    } else {
      view = newIndex(dimension, metric, settings, ef);
      view.view(path);
      if (this.views.size >= this.maxViews) this.views.delete(this.views.keys().next().value!);
    }
    this.views.set(key, view);
    let input: Float32Array | Int8Array = query;
    if (quantizer) {
      if (this.i8.length !== query.length) this.i8 = new Int8Array(query.length);
      input = quantizeI8(query, quantizer, this.i8);
    }
    const m = view.search(input, k, 1);
    return { keys: m.keys, distances: m.distances, count: m.keys.length };
  }

  /** Drops every view of a file (its segment was retired). */
  forget(path: string): void {
    for (const key of [...this.views.keys()]) if (key.endsWith(`\u0000${path}`)) this.views.delete(key);
  }
}
