/**
 * The bare usearch search the benchmark compares hotvec with: views of hotvec's own graph files
 * and, per query, one search of each (as hotvec searches every segment), with the query
 * quantised as hotvec quantises it for an l2 i8 graph. Used in-process (hotvec.ts) and by each
 * thread of the concurrent baseline (bare-worker.ts).
 */
import { quantizeI8, type I8Quantizer } from '../../src/graph/quantize.js';
import { newIndex } from '../../src/graph/usearch.js';
import type { IndexSettings } from '../../src/vector-index/settings.js';

/** usearch's answer for one graph: its keys and distances, nearest first. */
export type BareHits = import('usearch').Matches;

/** A function that searches every graph file for one query, asking each for `k` candidates; usearch's answers, one per file. */
export function bareSearch(files: string[], dim: number, settings: IndexSettings, ef: number, k: number, quantizer?: I8Quantizer): (query: Float32Array) => BareHits[] {
  const views = files.map((f) => {
    const v = newIndex(dim, 'l2', settings, ef);
    v.view(f);
    return v;
  });
  const i8 = new Int8Array(dim);
  return (query) => {
    const input = quantizer ? quantizeI8(query, quantizer, i8) : query;
    return views.map((v) => v.search(input, k, 1));
  };
}
