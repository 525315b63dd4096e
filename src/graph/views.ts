/**
 * A worker's memory-mapped views of sealed segments' HNSW files. usearch fixes the search
 * expansion (ef) when an index object is made, so a query asking for another ef gets another
 * view of the same file: `view()` maps the file, it copies nothing, and every view of every
 * worker shares the same page-cache pages. Views are kept per (file, ef), least recently used
 * dropped beyond `maxViews`; `forget(path)` drops a retired segment's views at once.
 */
import type { Metric } from '../persist/ops.js';
import type { IndexSettings } from '../vector-index/settings.js';
import { newIndex, type UsearchIndex } from './usearch.js';

export interface GraphHits {
  keys: BigUint64Array;
  distances: Float32Array;
  count: number;
}

export class GraphViews {
  private readonly views = new Map<string, UsearchIndex>();

  constructor(private readonly maxViews = 64) {}

  search(path: string, dimension: number, metric: Metric, settings: IndexSettings, ef: number, query: Float32Array, k: number): GraphHits {
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
    const m = view.search(query, k, 1);
    return { keys: m.keys, distances: m.distances, count: m.keys.length };
  }

  /** Drops every view of a file (its segment was retired). */
  forget(path: string): void {
    for (const key of [...this.views.keys()]) if (key.endsWith(`\u0000${path}`)) this.views.delete(key);
  }
}
