/**
 * The contract every distance kernel implements, and the one check of its arguments.
 *
 * Kernels work on byte offsets into one `WebAssembly.Memory` (the shared vector arena), so a
 * worker passes numbers, never arrays: the vectors stay where they are. Values are float32
 * little-endian, rows are contiguous (`base + i * dim * 4`).
 */
import { HotvecError } from '../errors.js';

export interface DistanceKernels {
  /** `wasm-simd` or `scalar`; shows up in benchmarks and metrics. */
  readonly name: string;
  /**
   * out[i] = Σ_j (q[j] − base[i·dim + j])² for i in [0, n). `out` receives n float32 and must
   * not overlap `q` or the rows (a row read after an overlapping write would see the result).
   */
  l2sq(qOff: number, baseOff: number, dim: number, n: number, outOff: number): void;
  /** out[i] = Σ_j q[j] · base[i·dim + j] for i in [0, n); same layout rules as `l2sq`. */
  dot(qOff: number, baseOff: number, dim: number, n: number, outOff: number): void;
  /**
   * `l2sq` of the query to n rows anywhere in the memory: row i starts at the byte offset held
   * as a little-endian uint32 at `offsetsOff + 4i`. Each distance is bit for bit what `l2sq`
   * gives that row (for rows scattered over the arena, graph candidates, the WASM kernel reads
   * four of them at once). `out` must not overlap `q`, the offsets or the rows.
   */
  l2sqGather(qOff: number, offsetsOff: number, dim: number, n: number, outOff: number): void;
  /** `dot` to n rows at the offsets held at `offsetsOff`, as `l2sqGather`. */
  dotGather(qOff: number, offsetsOff: number, dim: number, n: number, outOff: number): void;
}

const isOffset = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;

/**
 * Throws unless the query, the n rows and the n outputs all lie inside `byteLength`.
 * A failure is a bug in the caller (offsets come from the arena, not from clients), so it is
 * INTERNAL; checking here turns a silent NaN (scalar) or a trap (wasm) into a clear message.
 */
export function checkBatch(
  kernel: string,
  byteLength: number,
  qOff: number,
  baseOff: number,
  dim: number,
  n: number,
  outOff: number,
): void {
  checkShape(kernel, dim, n);
  if (!isOffset(qOff) || !isOffset(baseOff) || !isOffset(outOff)) {
    throw new HotvecError('INTERNAL', `${kernel}: offsets must be non-negative integers, got q=${qOff} base=${baseOff} out=${outOff}`);
  }
  checkRange(kernel, 'q', qOff, dim * 4, byteLength);
  checkRange(kernel, 'base', baseOff, n * dim * 4, byteLength);
  checkRange(kernel, 'out', outOff, n * 4, byteLength);
}

function checkShape(kernel: string, dim: number, n: number): void {
  if (!Number.isSafeInteger(dim) || dim < 1) {
    throw new HotvecError('INTERNAL', `${kernel}: dim must be a positive integer, got ${dim}`);
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new HotvecError('INTERNAL', `${kernel}: n must be a non-negative integer, got ${n}`);
  }
}

/**
 * The memory a gather reads its row offsets from, to check them: a view of it (a cached one may
 * be shorter than the memory, which only grows), and a fresh view, for a call that reaches past
 * the cached one (another thread grew the memory).
 */
export interface GatherMemory {
  view(): DataView<ArrayBufferLike>;
  renewed(): DataView<ArrayBufferLike>;
}

/**
 * Throws unless the query, the n offsets, the n outputs and every row the offsets name lie
 * inside the memory. The offsets are read only once their own range has been checked.
 */
export function checkGather(kernel: string, memory: GatherMemory, qOff: number, offsetsOff: number, dim: number, n: number, outOff: number): void {
  checkShape(kernel, dim, n);
  if (!isOffset(qOff) || !isOffset(offsetsOff) || !isOffset(outOff)) {
    throw new HotvecError('INTERNAL', `${kernel}: offsets must be non-negative integers, got q=${qOff} offsets=${offsetsOff} out=${outOff}`);
  }
  let view = memory.view();
  if (Math.max(qOff + dim * 4, offsetsOff + n * 4, outOff + n * 4) > view.byteLength) view = memory.renewed();
  checkRange(kernel, 'q', qOff, dim * 4, view.byteLength);
  checkRange(kernel, 'offsets', offsetsOff, n * 4, view.byteLength);
  checkRange(kernel, 'out', outOff, n * 4, view.byteLength);
  const rowBytes = dim * 4;
  for (let i = 0; i < n; i++) {
    const row = view.getUint32(offsetsOff + i * 4, true);
    if (row + rowBytes <= view.byteLength) continue;
    view = memory.renewed();
    checkRange(kernel, `row ${i}`, row, rowBytes, view.byteLength);
  }
}

function checkRange(kernel: string, what: string, start: number, bytes: number, byteLength: number): void {
  if (start + bytes > byteLength) {
    throw new HotvecError(
      'INTERNAL',
      `${kernel}: ${what} bytes [${start}, ${start + bytes}) lie outside the memory of ${byteLength} bytes`,
    );
  }
}
