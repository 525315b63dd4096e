/**
 * Wire cost of one 784-d query request `{ embeddings: [[...784 floats]], k: 10 }`, in ns per
 * call and bytes: JSON, msgpack with number arrays (floats go as float64), and msgpack with the
 * embeddings as one float32 `bin`.
 *
 * - encode: what a client does (JSON.stringify to UTF-8 bytes; msgpackr `Packr({useRecords:
 *   false})` as load-tests/lib/dataset.ts). The bin is a Uint8Array view over the Float32Array:
 *   msgpackr's pack(Float32Array) is wrong, so always pack the bytes.
 * - decode: the server's own `decode` (src/server/codec.ts), bytes to a JS value.
 * - decode + embeddings(): then the Float32Array the engine searches with
 *   (src/service/validate.ts), which also checks the values are finite.
 *
 * The floats are float32 values from the load-test generator, so JSON spells each with ~17
 * digits, as a client holding float32 data (numpy `tolist()`) would. Round-robin repeats.
 */
import { performance } from 'node:perf_hooks';
import { Packr } from 'msgpackr';
import { clusteredVectors } from '../load-tests/lib/dataset.js';
import { decode, type Encoding } from '../src/server/codec.js';
import { embeddings } from '../src/service/validate.js';
import { median, type BenchRow } from './report.js';

const BENCH = 'codec';
const DIM = 784;
const REPEATS = 7;
const SAMPLE_MS = 150;

const packr = new Packr({ useRecords: false });

interface Format {
  impl: string;
  encoding: Encoding;
  encode: () => Uint8Array;
}

/** ns per call of `fn`, growing the iteration count until one sample lasts SAMPLE_MS. */
function nsPerCall(fn: () => number): number {
  let iterations = 64;
  let sink = 0;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) sink += fn();
    const ms = performance.now() - start;
    if (sink === -1) console.log(sink); // keeps `fn` from being optimised away
    if (ms >= SAMPLE_MS) return (ms * 1e6) / iterations;
    iterations *= ms < SAMPLE_MS / 8 ? 8 : 2;
  }
}

/** The server's path from request bytes to the query vectors it searches with. */
function toFloat32(bytes: Uint8Array, encoding: Encoding): Float32Array {
  return embeddings((decode(bytes, encoding) as { embeddings: unknown }).embeddings, 'embeddings', DIM, 1);
}

export async function run(): Promise<BenchRow[]> {
  const vector = clusteredVectors(1, DIM, 3);
  const asNumbers = { embeddings: [Array.from(vector)], k: 10 };
  const asBin = { embeddings: new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength), k: 10 };
  const formats: Format[] = [
    { impl: 'json', encoding: 'json', encode: () => Buffer.from(JSON.stringify(asNumbers)) },
    { impl: 'msgpack number arrays', encoding: 'msgpack', encode: () => packr.pack(asNumbers) },
    { impl: 'msgpack f32 bin', encoding: 'msgpack', encode: () => packr.pack(asBin) },
  ];

  const encoded = formats.map((f) => {
    // A copy: msgpackr packs into a buffer it reuses for the next pack.
    const bytes = Buffer.from(f.encode());
    // Every format must carry the vector exactly (float32 → float64 text and back is exact).
    if (!toFloat32(bytes, f.encoding).every((x, i) => x === vector[i])) throw new Error(`${f.impl} does not round-trip the vector`);
    return { f, bytes };
  });
  const ops = [
    { name: 'encode', run: (f: Format) => () => f.encode().byteLength },
    { name: 'decode', run: (f: Format, bytes: Uint8Array) => () => (decode(bytes, f.encoding) as { k: number }).k },
    { name: 'decode + embeddings() to Float32Array', run: (f: Format, bytes: Uint8Array) => () => toFloat32(bytes, f.encoding).length },
  ];
  const cases = ops.flatMap((op) => encoded.map(({ f, bytes }) => ({ name: op.name, f, bytes, fn: op.run(f, bytes) })));

  for (const c of cases) nsPerCall(c.fn); // warm-up: lets V8 optimise every path first
  const samples = cases.map(() => [] as number[]);
  for (let r = 0; r < REPEATS; r++) cases.forEach((c, i) => samples[i]!.push(nsPerCall(c.fn)));

  return cases.map((c, i): BenchRow => ({
    bench: BENCH,
    case: `${c.name} {embeddings: 1×${DIM}, k: 10}`,
    impl: c.f.impl,
    median: median(samples[i]!),
    unit: 'ns/op',
    samples: samples[i]!,
    extra: { bytes: c.bytes.byteLength },
  }));
}
