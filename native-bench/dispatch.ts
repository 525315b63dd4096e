/**
 * Piscina dispatch overhead: µs per task of a no-op task (native-bench/dispatch-worker.ts)
 * that receives a transferred 784-float query and answers a transferred 10 × (int32 +
 * float32) buffer, on a pool of 2 threads configured like src/pool/pool.ts, with 1 and 16
 * tasks in flight; beside the same function awaited in-thread under the same driver.
 *
 * With 1 in flight µs/task is the round-trip latency; with 16 it is the pool's throughput
 * cost (a task's latency is then about 16 × µs/task). Implementations run round-robin.
 */
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { answer } from './dispatch-worker.js';
import { median, type BenchRow } from './report.js';

const BENCH = 'dispatch';
const DIM = 784;
const THREADS = 2;
const IN_FLIGHT = [1, 16];
const REPEATS = 5;
const SAMPLE_MS = 300;
const WARMUP_MS = 500;

type Call = (query: Float32Array) => Promise<ArrayBuffer>;

/** Runs `tasks` tasks, `inFlight` at a time, each on a fresh query; returns µs per task. */
async function drive(call: Call, inFlight: number, tasks: number): Promise<number> {
  let issued = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (issued < tasks) {
        const query = new Float32Array(DIM);
        query[0] = issued++;
        const reply = await call(query);
        if (reply.byteLength !== 80) throw new Error(`reply of ${reply.byteLength} bytes, expected 80`);
      }
    }),
  );
  return ((performance.now() - start) * 1000) / tasks;
}

/** Tasks that last about `ms` at this call's pace (after a warm-up of that pace). */
async function calibrate(call: Call, inFlight: number, ms: number): Promise<number> {
  let tasks = 256;
  for (;;) {
    const us = await drive(call, inFlight, tasks);
    if (us * tasks >= ms * 1000) return Math.ceil((ms * 1000) / us);
    tasks *= 4;
  }
}

export async function run(): Promise<BenchRow[]> {
  const pool = new Piscina<Float32Array, ArrayBuffer>({
    filename: new URL('./dispatch-worker.js', import.meta.url).href,
    minThreads: THREADS,
    maxThreads: THREADS,
    idleTimeout: Infinity,
    concurrentTasksPerWorker: 1,
  });
  const impls: { impl: string; call: Call }[] = [
    { impl: `piscina ${THREADS} threads`, call: (query) => pool.run(query, { transferList: [query.buffer as ArrayBuffer] }) },
    { impl: 'in-thread await', call: async (query) => answer(query) },
  ];
  const rows: BenchRow[] = [];
  try {
    for (const inFlight of IN_FLIGHT) {
      const tasks = [];
      for (const { call } of impls) {
        await calibrate(call, inFlight, WARMUP_MS);
        tasks.push(await calibrate(call, inFlight, SAMPLE_MS));
      }
      const samples = impls.map(() => [] as number[]);
      for (let r = 0; r < REPEATS; r++) {
        for (let i = 0; i < impls.length; i++) samples[i]!.push(await drive(impls[i]!.call, inFlight, tasks[i]!));
      }
      const inThread = median(samples[1]!);
      impls.forEach(({ impl }, i) => {
        const m = median(samples[i]!);
        const extra: Record<string, number> = { 'tasks/s': 1e6 / m };
        if (i === 0) extra['µs over in-thread'] = m - inThread;
        rows.push({ bench: BENCH, case: `${DIM}-f32 in, 10×(i32+f32) out, ${inFlight} in flight`, impl, median: m, unit: 'µs/task', samples: samples[i]!, extra });
      });
    }
  } finally {
    await pool.destroy();
  }
  return rows;
}
