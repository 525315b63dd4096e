/**
 * What every native bench returns, and the two ways its rows leave the process: a table a
 * person reads and a JSON file a script compares (native-bench/results/<bench>.json).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

export interface BenchRow {
  /** The bench module that produced the row, e.g. `kernels`. */
  bench: string;
  /** What was measured; identical across implementations so their rows line up, e.g. `l2sq dim=128 n=16384`. */
  case: string;
  /** Which implementation ran, e.g. `wasm-simd`. */
  impl: string;
  /** Median of `samples`, in `unit`. Higher is better unless the unit says otherwise. */
  median: number;
  /** Unit of `median` and `samples`, e.g. `vectors/s`. */
  unit: string;
  /** One value per repeat, in the order measured. */
  samples: number[];
  /** Figures derived from the median (GFLOP/s, ratios to another row), by column name. */
  extra?: Record<string, number>;
}

/** A bench module: `run()` measures and returns rows; printing and saving are the runner's job. */
export interface BenchModule {
  run(): Promise<BenchRow[]>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Four significant digits, thousands grouped, so 12345678 reads as 12,350,000. */
function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const rounded = Number(x.toPrecision(4));
  return Math.abs(rounded) >= 1000
    ? rounded.toLocaleString('en-US', { maximumFractionDigits: 0 })
    : String(rounded);
}

/** A fixed-width table: case, impl, median, unit, spread (min–max), then every `extra` column seen. */
export function formatTable(rows: readonly BenchRow[]): string {
  const extraColumns = [...new Set(rows.flatMap((r) => Object.keys(r.extra ?? {})))];
  const header = ['case', 'impl', 'median', 'unit', 'min', 'max', ...extraColumns];
  const body = rows.map((r) => [
    r.case,
    r.impl,
    formatNumber(r.median),
    r.unit,
    formatNumber(Math.min(...r.samples)),
    formatNumber(Math.max(...r.samples)),
    ...extraColumns.map((c) => (r.extra?.[c] === undefined ? '' : formatNumber(r.extra[c]))),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  // Text columns left-aligned, numbers right-aligned.
  const textColumns = new Set([0, 1, 3]);
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (textColumns.has(i) ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...body.map(line)].join('\n');
}

/** Where results go: native-bench/results/ in the source tree (this file runs as dist/native-bench/report.js). */
const RESULTS_DIR = new URL('../../native-bench/results/', import.meta.url);

/** Writes `{ bench, generatedAt, host, rows }` to native-bench/results/<bench>.json; returns the path. */
export async function writeResults(bench: string, rows: readonly BenchRow[]): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const file = new URL(`${bench}.json`, RESULTS_DIR);
  const host = {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
  };
  const json = JSON.stringify({ bench, generatedAt: new Date().toISOString(), host, rows }, null, 2);
  await writeFile(file, `${json}\n`);
  return fileURLToPath(file);
}
