/**
 * WAL append throughput: appends/s and MB/s for 784-float payloads (3136 bytes, 3152 framed)
 * with 1, 16 and 256 concurrent appenders, each awaiting its record's `durable` promise
 * before appending the next, under fsync 'always' and 'everysec'. Also reports the mean
 * group-commit size (records per writev, and per fdatasync under 'always') and the latency
 * percentiles of `durable`.
 *
 *   node dist/native-bench/wal.js [--dir <folder>] [--seconds 2] [--runs 3] [--out <file>]
 *
 * Each cell runs `runs` times on a fresh WAL in a temp folder under --dir (default: the OS
 * temp dir; put it on the disk the data dir will live on, fsync cost is the disk's); the
 * table shows the median of each column over the runs. Writes JSON to
 * native-bench/results/wal.json unless --out says otherwise.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Wal, type FsyncPolicy, type WalSyncEvent } from '../src/persist/wal.js';
import { RECORD_HEADER_BYTES } from '../src/persist/wal-format.js';

const DIMENSION = 784;
const POLICIES: FsyncPolicy[] = ['always', 'everysec'];
const CONCURRENCY = [1, 16, 256];

export interface WalBenchOptions {
  dir: string;
  seconds: number;
  runs: number;
}

export interface WalBenchRun {
  appendsPerSec: number;
  mbPerSec: number;
  /** Mean records per group commit (one writev, plus one fdatasync under 'always'). */
  recordsPerCommit: number;
  p50Ms: number;
  p99Ms: number;
}

export interface WalBenchCell extends WalBenchRun {
  fsync: FsyncPolicy;
  concurrency: number;
  runs: WalBenchRun[];
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function runOnce(root: string, fsync: FsyncPolicy, concurrency: number, seconds: number): Promise<WalBenchRun> {
  const dir = await mkdtemp(join(root, `${fsync}-${concurrency}-`));
  const payload = new Uint8Array(new Float32Array(DIMENSION).map(() => Math.random()).buffer);
  const frameBytes = RECORD_HEADER_BYTES + payload.byteLength;
  const wal = await Wal.open({ dir, fsync });
  let commits = 0;
  let committed = 0;
  wal.on('sync', (e: WalSyncEvent) => {
    commits++;
    committed += e.records;
  });
  const latencies: number[] = [];
  let done = 0;
  let stopped = false;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const appender = async (): Promise<void> => {
    while (!stopped) {
      const t = performance.now();
      await wal.append(payload).durable;
      const now = performance.now();
      if (now > deadline) {
        stopped = true;
        break;
      }
      latencies.push(now - t);
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, appender));
  const elapsed = (deadline - started) / 1000;
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  const sorted = Float64Array.from(latencies).sort();
  return {
    appendsPerSec: done / elapsed,
    mbPerSec: (done * frameBytes) / elapsed / 1e6,
    recordsPerCommit: commits === 0 ? NaN : committed / commits,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

export async function runWalBench(options: WalBenchOptions): Promise<WalBenchCell[]> {
  const root = await mkdtemp(join(options.dir, 'hotvec-wal-bench-'));
  const cells: WalBenchCell[] = [];
  try {
    for (const fsync of POLICIES) {
      for (const concurrency of CONCURRENCY) {
        const runs: WalBenchRun[] = [];
        for (let r = 0; r < options.runs; r++) runs.push(await runOnce(root, fsync, concurrency, options.seconds));
        const pick = (k: keyof WalBenchRun): number => median(runs.map((run) => run[k]));
        cells.push({
          fsync,
          concurrency,
          appendsPerSec: pick('appendsPerSec'),
          mbPerSec: pick('mbPerSec'),
          recordsPerCommit: pick('recordsPerCommit'),
          p50Ms: pick('p50Ms'),
          p99Ms: pick('p99Ms'),
          runs,
        });
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return cells;
}

function printTable(cells: WalBenchCell[], options: WalBenchOptions): void {
  const header = ['fsync', 'appenders', 'appends/s', 'MB/s', 'recs/commit', 'p50 ms', 'p99 ms'];
  const rows = cells.map((c) => [
    c.fsync,
    String(c.concurrency),
    Math.round(c.appendsPerSec).toLocaleString('en-US'),
    c.mbPerSec.toFixed(1),
    Number.isNaN(c.recordsPerCommit) ? '-' : c.recordsPerCommit.toFixed(1),
    c.p50Ms.toFixed(3),
    c.p99Ms.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]): string => cols.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`WAL append, ${DIMENSION}-float payloads, ${options.seconds}s per run, median of ${options.runs} runs, dir ${options.dir}`);
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: tmpdir() },
      seconds: { type: 'string', default: '2' },
      runs: { type: 'string', default: '3' },
      out: { type: 'string', default: fileURLToPath(new URL('../../native-bench/results/wal.json', import.meta.url)) },
    },
  });
  const options: WalBenchOptions = { dir: values.dir, seconds: Number(values.seconds), runs: Number(values.runs) };
  if (!(options.seconds > 0) || !Number.isInteger(options.runs) || options.runs < 1) {
    throw new Error('--seconds must be > 0 and --runs a positive integer');
  }
  const cells = await runWalBench(options);
  printTable(cells, options);
  const out = values.out;
  await mkdir(dirname(out), { recursive: true });
  const report = {
    bench: 'wal',
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    payloadBytes: DIMENSION * 4,
    frameBytes: DIMENSION * 4 + RECORD_HEADER_BYTES,
    ...options,
    cells,
  };
  await writeFile(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

if (process.argv[1] !== undefined && pathToFileURL(process.argv[1]).href === import.meta.url) {
  await main();
}
