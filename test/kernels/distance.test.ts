/**
 * The WASM SIMD kernels and the scalar reference must agree with each other and with a
 * float64 computation, at any dimension, batch size and alignment, after the memory grew,
 * and when another thread runs them over the same shared memory.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { HotvecError } from '../../src/errors.js';
import { createBestKernels, createScalarKernels, createWasmKernels, wasmSimdSupported, type DistanceKernels } from '../../src/kernels/index.js';

const PAGE = 65536;
const DIMS = [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 64, 100, 128, 384, 768, 784, 1536, 4096];
const BATCHES = [0, 1, 3, 17];
/** SIMD float32 accumulation may differ from the float64 truth by this much, relative to Σ|terms|. */
const WASM_TOLERANCE = 1e-5;
/** The scalar kernel accumulates in float64 and rounds once, so it must be much closer. */
const SCALAR_TOLERANCE = 1e-6;

type Kind = 'l2sq' | 'dot';

/** xorshift32: a deterministic stream so a failure reproduces. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

function randomVectors(count: number, rand: () => number, scale = 1, shift = 0): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rand() * 2 - 1) * scale + shift;
  return out;
}

/** Writes little-endian float32 at any byte offset (Float32Array views need 4-byte alignment). */
function write(memory: WebAssembly.Memory, offset: number, values: Float32Array): void {
  const view = new DataView(memory.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(offset + i * 4, values[i]!, true);
}

function read(memory: WebAssembly.Memory, offset: number, count: number): Float32Array {
  const view = new DataView(memory.buffer);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + i * 4, true);
  return out;
}

/** The float64 truth, and Σ|term| per row: the magnitude a float32 rounding error scales with. */
function reference(kind: Kind, q: Float32Array, rows: Float32Array, dim: number): { value: Float64Array; magnitude: Float64Array } {
  const n = rows.length / dim;
  const value = new Float64Array(n);
  const magnitude = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let m = 0;
    for (let j = 0; j < dim; j++) {
      const a = q[j]!;
      const b = rows[i * dim + j]!;
      const t = kind === 'l2sq' ? (a - b) * (a - b) : a * b;
      s += t;
      m += Math.abs(t);
    }
    value[i] = s;
    magnitude[i] = m;
  }
  return { value, magnitude };
}

function assertClose(got: Float32Array, want: { value: Float64Array; magnitude: Float64Array }, tolerance: number, label: string): void {
  assert.equal(got.length, want.value.length, `${label}: length`);
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - want.value[i]!);
    const bound = tolerance * want.magnitude[i]!;
    assert.ok(err <= bound, `${label} row ${i}: got ${got[i]}, want ${want.value[i]} (error ${err} > ${bound})`);
  }
}

const align = (x: number, to: number): number => Math.ceil(x / to) * to;

interface Layout {
  q: number;
  base: number;
  out: number;
  end: number;
}

/** Places q, the rows and the output at `skew` bytes past a 16-byte boundary, never aligned to 16. */
function layout(start: number, dim: number, n: number, skew: number): Layout {
  const q = align(start, 16) + skew;
  const base = align(q + dim * 4, 16) + skew;
  const out = align(base + n * dim * 4, 16) + skew;
  return { q, base, out, end: out + n * 4 + 16 };
}

function run(kernels: DistanceKernels, kind: Kind, at: Layout, dim: number, n: number): void {
  kernels[kind](at.q, at.base, dim, n, at.out);
}

function sharedMemory(initialPages: number, maximumPages: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: initialPages, maximum: maximumPages, shared: true });
}

describe('distance kernels', () => {
  it('WASM SIMD is supported on this Node and picked by createBestKernels', () => {
    assert.equal(wasmSimdSupported(), true);
    assert.equal(createBestKernels(sharedMemory(1, 1)).name, 'wasm-simd');
  });

  it('computes hand-checked values exactly', () => {
    const memory = sharedMemory(1, 1);
    for (const kernels of [createWasmKernels(memory), createScalarKernels(memory)]) {
      // dim 23 = one 16-float block + one 4-float block + a 3-float tail: every phase runs.
      const dim = 23;
      const q = new Float32Array(dim).map((_, j) => j % 5);
      const rows = new Float32Array(2 * dim).map((_, k) => (k < dim ? k % 5 : 1));
      write(memory, 0, q);
      write(memory, 256, rows);
      kernels.l2sq(0, 256, dim, 2, 1024);
      // Row 0 equals q; row 1 is all ones: Σ (j%5 − 1)² over 23 values.
      let expectL2 = 0;
      let expectDot = 0;
      for (let j = 0; j < dim; j++) {
        expectL2 += (q[j]! - 1) ** 2;
        expectDot += q[j]!;
      }
      assert.deepEqual([...read(memory, 1024, 2)], [0, expectL2], kernels.name);
      kernels.dot(0, 256, dim, 2, 1024);
      let selfDot = 0;
      for (let j = 0; j < dim; j++) selfDot += q[j]! * q[j]!;
      assert.deepEqual([...read(memory, 1024, 2)], [selfDot, expectDot], kernels.name);
    }
  });

  for (const kind of ['l2sq', 'dot'] as const) {
    it(`${kind}: WASM and scalar agree with float64 for every dim and batch size (4-byte aligned, not 16)`, () => {
      const memory = sharedMemory(160, 160);
      const wasm = createWasmKernels(memory);
      const scalar = createScalarKernels(memory);
      let seed = 1;
      for (const dim of DIMS) {
        for (const n of BATCHES) {
          const rand = prng(seed++);
          const at = layout(64, dim, n, 4);
          const q = randomVectors(dim, rand);
          const rows = randomVectors(n * dim, rand);
          write(memory, at.q, q);
          write(memory, at.base, rows);
          const want = reference(kind, q, rows, dim);

          // A sentinel just past out[n-1] proves neither kernel writes past its batch.
          write(memory, at.out, new Float32Array(n + 1).fill(-7));
          run(wasm, kind, at, dim, n);
          const fromWasm = read(memory, at.out, n + 1);
          assert.equal(fromWasm[n], -7, `wasm wrote past out[${n - 1}] at dim ${dim}`);
          run(scalar, kind, at, dim, n);
          const fromScalar = read(memory, at.out, n + 1);
          assert.equal(fromScalar[n], -7, `scalar wrote past out[${n - 1}] at dim ${dim}`);

          const label = `${kind} dim=${dim} n=${n}`;
          assertClose(fromWasm.subarray(0, n), want, WASM_TOLERANCE, `wasm ${label}`);
          assertClose(fromScalar.subarray(0, n), want, SCALAR_TOLERANCE, `scalar ${label}`);
          // The two kernels against each other, scaled by the same magnitudes.
          assertClose(fromWasm.subarray(0, n), { value: Float64Array.from(fromScalar.subarray(0, n)), magnitude: want.magnitude }, WASM_TOLERANCE, `wasm vs scalar ${label}`);
          // Inputs are read-only.
          assert.deepEqual(read(memory, at.q, dim), q);
          assert.deepEqual(read(memory, at.base, n * dim), rows);
        }
      }
    });
  }

  it('handles offsets that are not multiples of 4', () => {
    const memory = sharedMemory(8, 8);
    const wasm = createWasmKernels(memory);
    const scalar = createScalarKernels(memory);
    const rand = prng(99);
    for (const skew of [1, 2, 3]) {
      for (const dim of [3, 16, 17, 100]) {
        const n = 9;
        const at = layout(128, dim, n, skew);
        const q = randomVectors(dim, rand);
        const rows = randomVectors(n * dim, rand);
        write(memory, at.q, q);
        write(memory, at.base, rows);
        for (const kind of ['l2sq', 'dot'] as const) {
          const want = reference(kind, q, rows, dim);
          run(wasm, kind, at, dim, n);
          assertClose(read(memory, at.out, n), want, WASM_TOLERANCE, `wasm ${kind} skew=${skew} dim=${dim}`);
          run(scalar, kind, at, dim, n);
          assertClose(read(memory, at.out, n), want, SCALAR_TOLERANCE, `scalar ${kind} skew=${skew} dim=${dim}`);
        }
      }
    }
  });

  it('stays within tolerance for large, offset values', () => {
    const memory = sharedMemory(16, 16);
    const wasm = createWasmKernels(memory);
    const rand = prng(7);
    for (const dim of [17, 128, 1536]) {
      const n = 5;
      const at = layout(0, dim, n, 8);
      const q = randomVectors(dim, rand, 1000, 500);
      const rows = randomVectors(n * dim, rand, 1000, 500);
      write(memory, at.q, q);
      write(memory, at.base, rows);
      for (const kind of ['l2sq', 'dot'] as const) {
        run(wasm, kind, at, dim, n);
        assertClose(read(memory, at.out, n), reference(kind, q, rows, dim), WASM_TOLERANCE, `wasm ${kind} dim=${dim}`);
      }
    }
  });

  it('reads vectors placed in pages added by grow() after the kernels were created', () => {
    const memory = sharedMemory(1, 16);
    const wasm = createWasmKernels(memory);
    const scalar = createScalarKernels(memory);
    const dim = 100;
    const n = 40; // 16 000 bytes of rows
    const at = layout(2 * PAGE + 40, dim, n, 4);
    for (const kernels of [wasm, scalar]) {
      assert.throws(() => run(kernels, 'l2sq', at, dim, n), (err: unknown) => err instanceof HotvecError && err.code === 'HOTVEC_INTERNAL');
    }
    // Use the kernels once on the small memory so any cached view is of the old size.
    write(memory, 0, new Float32Array(dim + 1).fill(1));
    wasm.dot(0, 0, dim, 1, 4 * dim + 4);
    scalar.dot(0, 0, dim, 1, 4 * dim + 4);

    memory.grow(3);
    const rand = prng(2024);
    const q = randomVectors(dim, rand);
    const rows = randomVectors(n * dim, rand);
    write(memory, at.q, q);
    write(memory, at.base, rows);
    for (const kind of ['l2sq', 'dot'] as const) {
      const want = reference(kind, q, rows, dim);
      run(wasm, kind, at, dim, n);
      assertClose(read(memory, at.out, n), want, WASM_TOLERANCE, `wasm ${kind} after grow`);
      run(scalar, kind, at, dim, n);
      assertClose(read(memory, at.out, n), want, SCALAR_TOLERANCE, `scalar ${kind} after grow`);
    }
  });

  it('gathers rows in pages added by grow(), with the offsets in the old pages, after a call cached the old size', () => {
    const memory = sharedMemory(1, 8);
    const dim = 64;
    const offsetsAt = 1024;
    const outAt = 2048;
    const picks = [3, 0, 5, 1, 4]; // four in lockstep, then one alone
    const kernelsOf = [createWasmKernels(memory), createScalarKernels(memory)];
    write(memory, 0, new Float32Array(dim).fill(1));
    const view = () => new DataView(memory.buffer);
    for (const kernels of kernelsOf) {
      view().setUint32(offsetsAt, 4096, true);
      kernels.l2sqGather(0, offsetsAt, dim, 1, outAt); // caches the one-page view
    }
    memory.grow(2);
    const rows = randomVectors(6 * dim, prng(77));
    const base = PAGE + 1000; // past the first page: only the grown memory has it
    write(memory, base, rows);
    picks.forEach((r, i) => view().setUint32(offsetsAt + i * 4, base + r * dim * 4, true));
    for (const kernels of kernelsOf) {
      for (const kind of ['l2sq', 'dot'] as const) {
        kernels[kind === 'l2sq' ? 'l2sqGather' : 'dotGather'](0, offsetsAt, dim, picks.length, outAt);
        const got = read(memory, outAt, picks.length);
        const want = reference(kind, new Float32Array(dim).fill(1), Float32Array.from(picks.flatMap((r) => Array.from(rows.subarray(r * dim, (r + 1) * dim)))), dim);
        assertClose(got, want, kernels.name === 'scalar' ? SCALAR_TOLERANCE : WASM_TOLERANCE, `${kernels.name} ${kind}Gather after grow`);
      }
    }
  });

  it('rejects batches outside the memory and malformed arguments with HOTVEC_INTERNAL', () => {
    const memory = sharedMemory(1, 1);
    const isInternal = (err: unknown): boolean => err instanceof HotvecError && err.code === 'HOTVEC_INTERNAL';
    for (const kernels of [createWasmKernels(memory), createScalarKernels(memory)]) {
      for (const kind of ['l2sq', 'dot'] as const) {
        const k = kernels[kind].bind(kernels);
        assert.throws(() => k(0, 64, 0, 1, 0), isInternal, 'dim 0');
        assert.throws(() => k(0, 64, 2.5, 1, 0), isInternal, 'fractional dim');
        assert.throws(() => k(0, 64, 4, -1, 0), isInternal, 'negative n');
        assert.throws(() => k(-4, 64, 4, 1, 0), isInternal, 'negative q');
        assert.throws(() => k(0, Number.NaN, 4, 1, 0), isInternal, 'NaN base');
        assert.throws(() => k(PAGE - 8, 0, 4, 1, 64), isInternal, 'q past the end');
        assert.throws(() => k(0, PAGE - 16, 4, 2, 64), isInternal, 'rows past the end');
        assert.throws(() => k(0, 64, 4, 3, PAGE - 8), isInternal, 'out past the end');
        // The last row and the last output may end exactly at the end of memory.
        k(0, PAGE - 32, 4, 2, PAGE - 40);
      }
    }
    assert.throws(
      () => createWasmKernels(new WebAssembly.Memory({ initial: 1, maximum: 1 })),
      isInternal,
      'an unshared memory cannot be imported by the shared-memory module',
    );
  });

  it('gathers: each row at its own offset gets bit for bit what the batch kernel gives it', () => {
    // Rows scattered (out of order, one repeated, at every skew) as graph candidates are: the
    // WASM gather must equal its batch kernel exactly (four rows in lockstep, then the rest one
    // at a time: n covers every remainder), the scalar gather its own batch kernel.
    const memory = sharedMemory(64, 64);
    const rand = prng(4242);
    for (const kernels of [createWasmKernels(memory), createScalarKernels(memory)]) {
      for (const dim of [1, 3, 4, 5, 16, 17, 19, 64, 100, 784]) {
        for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 13]) {
          const skew = (dim + n) % 4;
          const rows = Math.max(n, 1) + 3;
          const at = layout(64, dim, rows, skew);
          write(memory, at.q, randomVectors(dim, rand));
          write(memory, at.base, randomVectors(rows * dim, rand, 3, 0.5));
          const offsetsAt = align(at.end, 16) + 4;
          const gatherOut = offsetsAt + n * 4 + 8 + skew;
          const picks = Array.from({ length: n }, (_, i) => (i === 2 ? 0 : Math.floor(rand() * rows)));
          const view = new DataView(memory.buffer);
          picks.forEach((r, i) => view.setUint32(offsetsAt + i * 4, at.base + r * dim * 4, true));
          for (const kind of ['l2sq', 'dot'] as const) {
            const one = new Float32Array(rows);
            kernels[kind](at.q, at.base, dim, rows, at.out);
            one.set(read(memory, at.out, rows));
            kernels[kind === 'l2sq' ? 'l2sqGather' : 'dotGather'](at.q, offsetsAt, dim, n, gatherOut);
            const got = read(memory, gatherOut, n);
            for (let i = 0; i < n; i++) {
              assert.ok(Object.is(got[i], one[picks[i]!]), `${kernels.name} ${kind}Gather dim ${dim} n ${n} row ${i}: ${got[i]} against ${one[picks[i]!]}`);
            }
          }
        }
      }
    }
  });

  it('gathers: rejects offsets, outputs or rows outside the memory with HOTVEC_INTERNAL', () => {
    const memory = sharedMemory(1, 1);
    const isInternal = (err: unknown): boolean => err instanceof HotvecError && err.code === 'HOTVEC_INTERNAL';
    const view = new DataView(memory.buffer);
    for (const kernels of [createWasmKernels(memory), createScalarKernels(memory)]) {
      for (const gather of [kernels.l2sqGather.bind(kernels), kernels.dotGather.bind(kernels)]) {
        view.setUint32(1024, 64, true);
        view.setUint32(1028, PAGE - 16, true);
        gather(0, 1024, 4, 2, 2048); // both rows inside, the second ending at the end of memory
        view.setUint32(1028, PAGE - 8, true);
        assert.throws(() => gather(0, 1024, 4, 2, 2048), isInternal, 'a row past the end');
        assert.throws(() => gather(0, PAGE - 4, 4, 2, 2048), isInternal, 'offsets past the end');
        assert.throws(() => gather(0, 1024, 4, 1, PAGE - 2), isInternal, 'out past the end');
        assert.throws(() => gather(0, 1024, 0, 1, 2048), isInternal, 'dim 0');
        assert.throws(() => gather(-4, 1024, 4, 1, 2048), isInternal, 'negative q');
        assert.throws(() => gather(0, -4, 4, 1, 2048), isInternal, 'negative offsets');
        assert.throws(() => gather(0, PAGE - 8, 4, 1.5, 2048), isInternal, 'fractional n');
        assert.throws(() => gather(0, Number.NaN, 4, 1, 2048), isInternal, 'NaN offsets');
      }
    }
  });

  describe('in a worker thread over memory shared with the main thread', { timeout: 60_000 }, () => {
    // CommonJS eval worker: it imports the compiled kernels by URL, runs what the main thread
    // asks over the memory it was handed, and can grow that memory itself.
    const WORKER = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        const { createWasmKernels, createScalarKernels } = await import(workerData.kernelsUrl);
        const memory = workerData.memory;
        const kernels = { wasm: createWasmKernels(memory), scalar: createScalarKernels(memory) };
        parentPort.on('message', (m) => {
          try {
            if (m.op === 'grow') {
              memory.grow(m.pages);
              new Float32Array(memory.buffer, m.at, m.values.length).set(m.values);
            } else {
              kernels[m.impl][m.op](m.q, m.base, m.dim, m.n, m.out);
            }
            parentPort.postMessage({ ok: true, byteLength: memory.buffer.byteLength });
          } catch (err) {
            parentPort.postMessage({ ok: false, error: String(err && err.stack || err) });
          }
        });
        parentPort.postMessage({ ok: true, ready: true });
      })().catch((err) => parentPort.postMessage({ ok: false, error: String(err.stack) }));
    `;
    const memory = sharedMemory(1, 32);
    let worker: Worker | undefined;

    after(async () => {
      await worker?.terminate();
    });

    type Reply = { ok: boolean; error?: string; byteLength?: number };
    const ask = async (message: object): Promise<Reply> => {
      const w = worker!;
      const reply = once(w, 'message') as Promise<[Reply]>;
      w.postMessage(message);
      const [answer] = await reply;
      assert.equal(answer.ok, true, answer.error);
      return answer;
    };

    it('starts with the memory', async () => {
      const kernelsUrl = new URL('../../src/kernels/index.js', import.meta.url).href;
      worker = new Worker(WORKER, { eval: true, workerData: { memory, kernelsUrl } });
      const [ready] = (await once(worker, 'message')) as [Reply];
      assert.equal(ready.ok, true, ready.error);
    });

    it('computes over vectors the main thread wrote, into memory the main thread reads', async () => {
      const dim = 128;
      const n = 33;
      const at = layout(256, dim, n, 4);
      const rand = prng(31337);
      const q = randomVectors(dim, rand);
      const rows = randomVectors(n * dim, rand);
      write(memory, at.q, q);
      write(memory, at.base, rows);
      for (const impl of ['wasm', 'scalar'] as const) {
        for (const op of ['l2sq', 'dot'] as const) {
          write(memory, at.out, new Float32Array(n).fill(Number.NaN));
          await ask({ impl, op, q: at.q, base: at.base, dim, n, out: at.out });
          const tolerance = impl === 'wasm' ? WASM_TOLERANCE : SCALAR_TOLERANCE;
          assertClose(read(memory, at.out, n), reference(op, q, rows, dim), tolerance, `worker ${impl} ${op}`);
        }
      }
    });

    it('sees pages the main thread added with grow()', async () => {
      const dim = 17;
      const n = 300;
      memory.grow(2);
      const at = layout(PAGE + 1000, dim, n, 8);
      assert.ok(at.end <= memory.buffer.byteLength);
      const rand = prng(5);
      const q = randomVectors(dim, rand);
      const rows = randomVectors(n * dim, rand);
      write(memory, at.q, q);
      write(memory, at.base, rows);
      for (const impl of ['wasm', 'scalar'] as const) {
        write(memory, at.out, new Float32Array(n).fill(Number.NaN));
        const reply = await ask({ impl, op: 'l2sq', q: at.q, base: at.base, dim, n, out: at.out });
        assert.equal(reply.byteLength, 3 * PAGE);
        const tolerance = impl === 'wasm' ? WASM_TOLERANCE : SCALAR_TOLERANCE;
        assertClose(read(memory, at.out, n), reference('l2sq', q, rows, dim), tolerance, `worker ${impl} after main grew`);
      }
    });

    it('lets the main thread read pages the worker added with grow()', async () => {
      const dim = 64;
      const n = 50;
      const wasm = createWasmKernels(memory);
      const scalar = createScalarKernels(memory);
      const rand = prng(77);
      const q = randomVectors(dim, rand);
      const rows = randomVectors(n * dim, rand);
      // The worker grows from 3 to 5 pages and writes q and the rows into page 4.
      const at = layout(4 * PAGE + 64, dim, n, 0);
      const values = new Float32Array((at.base - at.q) / 4 + n * dim);
      values.set(q, 0);
      values.set(rows, (at.base - at.q) / 4);
      const reply = await ask({ op: 'grow', pages: 2, at: at.q, values });
      assert.equal(reply.byteLength, 5 * PAGE);
      assert.equal(memory.buffer.byteLength, 5 * PAGE);
      for (const kernels of [wasm, scalar]) {
        for (const kind of ['l2sq', 'dot'] as const) {
          run(kernels, kind, at, dim, n);
          const tolerance = kernels === wasm ? WASM_TOLERANCE : SCALAR_TOLERANCE;
          assertClose(read(memory, at.out, n), reference(kind, q, rows, dim), tolerance, `main ${kernels.name} ${kind} after worker grew`);
        }
      }
    });
  });
});
