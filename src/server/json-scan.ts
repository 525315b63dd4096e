/**
 * The WebAssembly scan of a JSON body's embeddings (json-scan.wat): rows of JSON numbers straight
 * into float32, as `JSON.parse` followed by `Math.fround` would give them. The one instance
 * belongs to the thread that loads this module (the main thread: bodies are decoded there) and
 * its memory holds one body at a time:
 *
 *   0 ─ powers of ten ─ BODY ─ body bytes, 8 zero bytes ─ values (f32 × cap) ─ rows (i32 × rowCap)
 *
 * The memory grows to fit the largest body seen; after a body that took it past
 * `KEEP_BYTES`, the instance is dropped and the next body gets a fresh, small one.
 */
import { builtWasmModule } from '../platform/wasm-module.js';

/** Where the body starts (after the table of powers of ten the module keeps at 0). */
const BODY = 192;
/** Zero bytes after the body: the scan's eight-byte digit reads and token tests stop there. */
const PADDING = 8;
const PAGE = 65_536;
/** Memory kept between bodies (enough for a ~10 MB body); a larger one is let go after the body that needed it. */
const KEEP_BYTES = 32 * 1024 * 1024;
/** Rows one body may have on this path. */
const MAX_ROWS = 65_536;

interface ScanExports {
  memory: WebAssembly.Memory;
  pos: { value: number };
  rowCount: { value: number };
  scan(p: number, values: number, cap: number, rows: number, rowCap: number): number;
}

/** What the scan read: the values of every row back to back, each row's length, and the byte after the closing `]`. */
export interface ScannedRows {
  values: Float32Array;
  rowLengths: number[];
  /** Offset in the body of the byte after the `]` that closes the embeddings. */
  end: number;
}

let scanner: Scanner | undefined;

const scanModule = (): WebAssembly.Module => builtWasmModule(new URL('./json-scan.wasm', import.meta.url));

class Scanner {
  private readonly exports: ScanExports;
  private bytes: Uint8Array;

  constructor() {
    const instance = new WebAssembly.Instance(scanModule(), { js: { exact: (from: number, to: number) => this.exact(from, to) } });
    this.exports = instance.exports as unknown as ScanExports;
    this.bytes = new Uint8Array(this.exports.memory.buffer);
  }

  get memoryBytes(): number {
    return this.bytes.byteLength;
  }

  /** Reads the rows of `body` from `from`, just after the `[` that opens the embeddings; undefined when the scan does not apply. */
  scan(body: Uint8Array, from: number): ScannedRows | undefined {
    const length = body.byteLength;
    // A value takes at least two bytes (a digit and a comma or bracket), a row at least two (`[]`);
    // a body with more rows than MAX_ROWS is left to JSON.parse.
    const cap = (length >>> 1) + 1;
    const rowCap = Math.min(cap, MAX_ROWS);
    const values = align(BODY + length + PADDING, 4);
    const rows = values + cap * 4;
    // A body too large for the scan's memory (maxBodyBytes allows up to 1 GiB) is left to JSON.parse.
    if (!this.reserve(rows + rowCap * 4)) return undefined;
    const mem = this.bytes;
    mem.set(body, BODY);
    mem.fill(0, BODY + length, BODY + length + PADDING);
    const n = this.exports.scan(BODY + from, values, cap, rows, rowCap);
    if (n < 0) return undefined;
    const rowCount = this.exports.rowCount.value;
    const lengths = new Int32Array(mem.buffer, rows, rowCount);
    return {
      values: new Float32Array(mem.buffer.slice(values, values + n * 4)),
      rowLengths: Array.from(lengths),
      end: this.exports.pos.value - BODY,
    };
  }

  /** Grows the memory to at least `bytes`; false when it cannot grow that far. */
  private reserve(bytes: number): boolean {
    const memory = this.exports.memory;
    if (bytes > memory.buffer.byteLength) {
      try {
        memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
      } catch {
        return false; // RangeError: beyond the 4 GiB of a 32-bit memory, or the allocation failed
      }
      this.bytes = new Uint8Array(memory.buffer);
    }
    return true;
  }

  /** The correctly rounded parse of the number's text, as float32 (sign included). */
  private exact(from: number, to: number): number {
    return Math.fround(Number(Buffer.from(this.bytes.buffer, from, to - from).toString('latin1')));
  }
}

const align = (n: number, to: number): number => Math.ceil(n / to) * to;

/**
 * Scans the embeddings' rows of `body` from offset `from` (just after the `[` that opens them)
 * to the `]` that closes them; undefined for anything the scan does not expect (the caller
 * then leaves the body to `JSON.parse`).
 */
export function scanRows(body: Uint8Array, from: number): ScannedRows | undefined {
  scanner ??= new Scanner();
  const s = scanner;
  try {
    return s.scan(body, from);
  } finally {
    if (s.memoryBytes > KEEP_BYTES) scanner = undefined;
  }
}

/** Bytes of memory the scan holds now (0 before the first body and after one that took it past KEEP_BYTES). */
export function scanMemoryBytes(): number {
  return scanner?.memoryBytes ?? 0;
}
