/**
 * hotvec-side measurements of the benchmark that need its data folder or its process: waiting
 * for background indexing, the bare usearch search over hotvec's own graph files (the CPU
 * floor hotvec's per-query CPU is compared with), memory against raw vectors + graph, and a
 * timed restart from the data folder.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { I8Quantizer } from '../../src/graph/quantize.js';
import { startHotvec, type Hotvec } from '../../test/helpers/hotvec.js';
import { parsePrometheus, select } from '../../test/metrics/prometheus-text.js';

export interface SegmentInfo {
  serial: number;
  phase: string;
  records: number;
  live: number;
}

interface Detail {
  indexing: boolean;
  count: number;
  index: { m: number; efConstruction: number; efSearch: number; storage: 'f32' | 'f16' | 'i8' };
  segments: SegmentInfo[];
}

export async function describe(url: string, collection: string): Promise<Detail> {
  const r = await fetch(`${url}/v1/collections/${collection}`);
  if (!r.ok) throw new Error(`GET collection: HTTP ${r.status}`);
  return (await r.json()) as Detail;
}

/** Waits until hotvec has sealed and merged everything it will (no job for a few polls). */
export async function waitIndexed(url: string, collection: string, timeoutMs: number, onPoll?: (d: Detail) => void): Promise<{ seconds: number; detail: Detail }> {
  const t0 = performance.now();
  let quiet = 0;
  for (;;) {
    const d = await describe(url, collection);
    onPoll?.(d);
    quiet = !d.indexing && !d.segments.some((s) => s.phase === 'frozen') ? quiet + 1 : 0;
    if (quiet >= 5) return { seconds: (performance.now() - t0) / 1000, detail: d };
    if (performance.now() - t0 > timeoutMs) throw new Error(`hotvec still indexing after ${timeoutMs} ms: ${JSON.stringify(d.segments)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Paths of the sealed segments' graph files (the collection's live ones). */
export async function graphFiles(dataDir: string, segments: SegmentInfo[]): Promise<string[]> {
  const root = join(dataDir, 'segments');
  const out: string[] = [];
  const wanted = new Set(segments.filter((s) => s.phase === 'sealed').map((s) => `${s.serial}.usearch`));
  for (const uid of await readdir(root)) {
    for (const name of await readdir(join(root, uid))) if (wanted.has(name)) out.push(join(root, uid, name));
  }
  if (out.length !== wanted.size) throw new Error(`found ${out.length} of ${wanted.size} graph files under ${root}`);
  return out;
}

/**
 * CPU milliseconds per query of usearch alone over the graph files hotvec searches (every
 * segment, as hotvec does), with the same ef and k, on `threads` threads at once (each its own
 * views of the same files, the same queries), measured for the whole process while they all run.
 * One thread is the floor; on a machine whose cores share caches and memory bandwidth, all of
 * hotvec's worker count at once is what one search costs when the cores are busy together. The
 * threads end afterwards, and their views of the files with them: views kept in this process
 * would share the files' pages with hotvec and lower the PSS measured for it.
 */
export async function timeBareUsearch(files: string[], dim: number, settings: Detail['index'], ef: number, queries: Float32Array[], k: number, threads: number, quantizer?: I8Quantizer): Promise<{ cpuMsPerQuery: number; queriesPerSecond: number }> {
  const barrier = new Int32Array(new SharedArrayBuffer(8));
  const workers = Array.from({ length: threads }, () => new Worker(new URL('./bare-worker.js', import.meta.url), { workerData: { files, dim, settings, ef, k, queries, barrier, quantizer } }));
  const done = workers.map((w) => new Promise<void>((resolve, reject) => { w.once('message', () => resolve()); w.once('error', reject); }));
  while (Atomics.load(barrier, 0) < threads) await new Promise((r) => setTimeout(r, 5));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  Atomics.store(barrier, 1, 1);
  Atomics.notify(barrier, 1);
  await Promise.all(done);
  const cpu = process.cpuUsage(c0);
  const wall = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  const total = queries.length * threads;
  return { cpuMsPerQuery: (cpu.user + cpu.system) / 1000 / total, queriesPerSecond: total / wall };
}

export interface MemoryUse {
  rss: number;
  pss: number;
  /** RSS of the largest anonymous mapping: the shared arena (WebAssembly memory). */
  arena: number;
  /** PSS of the mapped graph files (each worker maps them; PSS counts shared pages once). */
  graphFiles: number;
  /** RSS of the C heap (glibc's main arena: native libraries, Node's buffers). */
  cHeap: number;
}

/** Resident memory of a process from /proc (Linux), in bytes, with the parts that matter here. */
export async function memoryOf(pid: number): Promise<MemoryUse> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  let rss = 0;
  let pss = 0;
  let arena = 0;
  let graphFiles = 0;
  let cHeap = 0;
  let name = '';
  let mappingRss = 0;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] ?? '';
      continue;
    }
    const field = /^(Rss|Pss):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const bytes = Number(field[2]) * 1024;
    if (field[1] === 'Rss') {
      rss += bytes;
      mappingRss = bytes;
      if (name === '') arena = Math.max(arena, mappingRss);
      if (name === '[heap]') cHeap += bytes;
    } else {
      pss += bytes;
      if (name.endsWith('.usearch')) graphFiles += bytes;
    }
  }
  return { rss, pss, arena, graphFiles, cHeap };
}

/** Bytes of the graph structure alone: file size minus the vectors usearch stores in it. */
export async function graphOnlyBytes(files: string[], nodes: number, dim: number, storage: 'f32' | 'f16' | 'i8'): Promise<{ fileBytes: number; graphBytes: number }> {
  let fileBytes = 0;
  for (const f of files) fileBytes += (await stat(f)).size;
  const scalar = storage === 'f32' ? 4 : storage === 'f16' ? 2 : 1;
  return { fileBytes, graphBytes: Math.max(0, fileBytes - nodes * dim * scalar) };
}

/** Stops hotvec gracefully and starts it again on the same data folder: seconds until it answers queries. */
export async function timedRestart(hv: Hotvec, args: string[]): Promise<{ hotvec: Hotvec; readySeconds: number; recovery: unknown }> {
  await hv.stop();
  const t0 = performance.now();
  const next = await startHotvec({ dataDir: hv.dataDir, args });
  const readySeconds = (performance.now() - t0) / 1000;
  const line = next.logs.find((l) => l.includes('"recovery done"'));
  return { hotvec: next, readySeconds, recovery: line ? JSON.parse(line) : null };
}

/**
 * Cumulative counts of hotvec's successful (2xx) HTTP query answers by upper bound in seconds,
 * from its own `/metrics` histogram (the same answers the benchmark's client times).
 */
export async function queryLatencyCounts(url: string): Promise<Map<number, number>> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics: ${res.status}`);
  const counts = new Map<number, number>();
  for (const s of select(parsePrometheus(await res.text()).samples, 'hotvec_request_duration_seconds_bucket', { op: 'query', transport: 'http' })) {
    if (!s.labels.status?.startsWith('2')) continue;
    const bound = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    counts.set(bound, (counts.get(bound) ?? 0) + s.value);
  }
  return counts;
}

/**
 * Of the HTTP queries hotvec answered between two `queryLatencyCounts`, the share its own clock
 * (arrival to answer written) put within `seconds` (a bucket bound of its histogram).
 */
export function shareWithin(before: Map<number, number>, after: Map<number, number>, seconds: number): number {
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (!after.has(seconds)) throw new Error(`hotvec's latency histogram has no bucket at ${seconds} s`);
  return total > 0 ? (after.get(seconds)! - (before.get(seconds) ?? 0)) / total : Number.NaN;
}
