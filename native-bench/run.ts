/**
 * Runs the native micro-benchmarks: each prints its table and writes
 * native-bench/results/<name>.json. `node dist/native-bench/run.js [name ...]` runs only the
 * named ones. To add a bench, add a module exporting `run(): Promise<BenchRow[]>` to BENCHES.
 */
import { formatTable, writeResults, type BenchModule } from './report.js';

const BENCHES: ReadonlyArray<{ name: string; load: () => Promise<BenchModule> }> = [
  { name: 'kernels', load: () => import('./kernels.js') },
  { name: 'metrics', load: () => import('./metrics.js') },
  { name: 'hnsw', load: () => import('./hnsw.js') },
  { name: 'hnsw-tuning', load: () => import('./hnsw-tuning.js') },
  { name: 'dispatch', load: () => import('./dispatch.js') },
  { name: 'codec', load: () => import('./codec.js') },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !BENCHES.some((b) => b.name === name));
if (unknown.length > 0) {
  console.error(`unknown bench ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  process.exit(2);
}

for (const bench of BENCHES) {
  if (wanted.length > 0 && !wanted.includes(bench.name)) continue;
  console.log(`\n== ${bench.name} (node ${process.version})`);
  const rows = await (await bench.load()).run();
  console.log(formatTable(rows));
  console.log(`wrote ${await writeResults(bench.name, rows)}`);
}
