/**
 * Directory entries: a collection's search view (its segments, their chunks and graphs, the
 * collection's settings) written into the shared arena, so that a query task names it by
 * offset and serial instead of carrying it, and any thread can read it (layout.ts draws the
 * entry). The main thread writes an entry once and never changes it; the collection retires it
 * through the reclaimer when a newer view replaces it (collection.ts), so a reader holds it by
 * an epoch (reader-epochs.ts) or by the main thread's enter/exit for the task.
 *
 *   main:    const ref = writeEntry(arena, target);          // SERIAL stored last (release)
 *   worker:  const target = reader.read(ref);                  // SERIAL loaded first (acquire)
 */
import type { Metric } from '../persist/ops.js';
import type { Arena } from './arena.js';
import {
  DIRECTORY_HEADER_WORDS,
  DIRECTORY_MIN_BYTES,
  DirectoryWord,
  SEGMENT_RECORD_WORDS,
  SegmentWord,
} from './layout.js';
import type { SegmentTarget } from './segment.js';
import { STORAGE_KINDS, type IndexSettings } from './settings.js';

export const METRIC_CODES: readonly Metric[] = ['l2', 'cosine', 'ip'];

/** Where an entry is: what a task carries. */
export interface DirectoryRef {
  readonly offset: number;
  readonly bytes: number;
  readonly serial: number;
}

/** What an entry holds (CollectionTarget without its own ref). */
export interface DirectoryBody {
  dimension: number;
  metric: Metric;
  settings: IndexSettings;
  segments: SegmentTarget[];
}

const pathBytes = (s: SegmentTarget): number => (s.graph ? Buffer.byteLength(s.graph.path) : 0);
const align4 = (n: number): number => (n + 3) & ~3;

/** Bytes an entry for `body` takes: a power of two, at least DIRECTORY_MIN_BYTES. */
export function entryBytes(body: DirectoryBody): number {
  let n = DIRECTORY_HEADER_WORDS * 4;
  for (const s of body.segments) {
    n += SEGMENT_RECORD_WORDS * 4 + s.chunks.length * 4 + align4(pathBytes(s));
    if (s.graph?.quantizer) n += body.dimension * 4;
  }
  let size = DIRECTORY_MIN_BYTES;
  while (size < n) size *= 2;
  return size;
}

let lastSerial = 0;

/**
 * Writes an entry for `body` into a block of the arena, which may be in the headroom records
 * cannot take (so that a full arena still answers queries), and returns where it is. Main
 * thread only.
 */
export function writeEntry(arena: Arena, body: DirectoryBody): DirectoryRef {
  const bytes = entryBytes(body);
  const offset = arena.alloc(bytes, true);
  const buffer = arena.buffer;
  const i32 = new Int32Array(buffer, offset, bytes >>> 2);
  const f32 = new Float32Array(buffer, offset, bytes >>> 2);
  const u8 = Buffer.from(buffer, offset, bytes);
  const view = new DataView(buffer, offset, bytes);
  i32[DirectoryWord.BYTES] = bytes;
  i32[DirectoryWord.DIMENSION] = body.dimension;
  i32[DirectoryWord.METRIC] = METRIC_CODES.indexOf(body.metric);
  i32[DirectoryWord.M] = body.settings.m;
  i32[DirectoryWord.EF_CONSTRUCTION] = body.settings.efConstruction;
  i32[DirectoryWord.EF_SEARCH] = body.settings.efSearch;
  i32[DirectoryWord.STORAGE] = STORAGE_KINDS.indexOf(body.settings.storage);
  i32[DirectoryWord.SEGMENTS] = body.segments.length;
  let w = DIRECTORY_HEADER_WORDS;
  for (const s of body.segments) {
    const path = pathBytes(s);
    const q = s.graph?.quantizer;
    i32[w + SegmentWord.DESCRIPTOR] = s.descriptorOffset | 0;
    i32[w + SegmentWord.CHUNKS] = s.chunks.length;
    i32[w + SegmentWord.GRAPH_NODES] = s.graph ? s.graph.nodes : -1;
    i32[w + SegmentWord.GRAPH_DEAD] = s.graph ? s.graph.dead : 0;
    i32[w + SegmentWord.PATH_BYTES] = path;
    i32[w + SegmentWord.QUANTIZED] = q ? 1 : 0;
    view.setFloat64((w + SegmentWord.SCALE) * 4, q ? q.scale : 0, true);
    w += SEGMENT_RECORD_WORDS;
    // Offsets are below 2^32 but may pass 2^31: stored as their unsigned bits.
    for (const c of s.chunks) i32[w++] = c | 0;
    if (q) {
      f32.set(q.offset, w);
      w += body.dimension;
    }
    if (s.graph) u8.write(s.graph.path, w * 4, path, 'utf8');
    w += align4(path) >>> 2;
  }
  lastSerial = (lastSerial + 1) | 0 || 1;
  Atomics.store(i32, DirectoryWord.SERIAL, lastSerial); // last: publishes the entry
  return { offset, bytes, serial: lastSerial };
}

/**
 * Gives an entry's block back (main thread, once no reader holds it: through the reclaimer).
 * Its serial is cleared first, so a reader that still named it would fail, not read stale bytes.
 */
export function freeEntry(arena: Arena, ref: DirectoryRef): void {
  Atomics.store(new Int32Array(arena.buffer, ref.offset, DIRECTORY_HEADER_WORDS), DirectoryWord.SERIAL, 0);
  arena.release(ref.offset, ref.bytes);
}

/** Reads entries (any thread), keeping the last ones it decoded. */
export class DirectoryReader {
  private readonly decoded = new Map<number, { serial: number; body: DirectoryBody }>();

  constructor(
    private readonly memory: WebAssembly.Memory,
    /** Decoded entries kept (a few per collection searched). */
    private readonly keep = 64,
  ) {}

  /** The entry `ref` names. Throws when it is not there any more (freed under its reader: a bug). */
  read(ref: DirectoryRef): DirectoryBody {
    const buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    const i32 = new Int32Array(buffer, ref.offset, DIRECTORY_HEADER_WORDS);
    const serial = Atomics.load(i32, DirectoryWord.SERIAL);
    if (serial !== ref.serial) throw new Error(`directory entry at ${ref.offset} has serial ${serial}, the task names ${ref.serial}: it was freed while still in use`);
    const known = this.decoded.get(ref.offset);
    if (known?.serial === serial) return known.body;
    const body = decode(buffer, ref.offset, ref.bytes);
    if (this.decoded.size >= this.keep) this.decoded.clear();
    this.decoded.set(ref.offset, { serial, body });
    return body;
  }
}

function decode(buffer: SharedArrayBuffer, offset: number, bytes: number): DirectoryBody {
  const i32 = new Int32Array(buffer, offset, bytes >>> 2);
  const u32 = new Uint32Array(buffer, offset, bytes >>> 2);
  const f32 = new Float32Array(buffer, offset, bytes >>> 2);
  const u8 = Buffer.from(buffer, offset, bytes);
  const view = new DataView(buffer, offset, bytes);
  const dimension = i32[DirectoryWord.DIMENSION]!;
  const segments: SegmentTarget[] = [];
  let w = DIRECTORY_HEADER_WORDS;
  for (let n = i32[DirectoryWord.SEGMENTS]!; n > 0; n--) {
    const nodes = i32[w + SegmentWord.GRAPH_NODES]!;
    const dead = i32[w + SegmentWord.GRAPH_DEAD]!;
    const path = i32[w + SegmentWord.PATH_BYTES]!;
    const quantized = i32[w + SegmentWord.QUANTIZED] === 1;
    const scale = view.getFloat64((w + SegmentWord.SCALE) * 4, true);
    const seg: SegmentTarget = { descriptorOffset: u32[w + SegmentWord.DESCRIPTOR]!, chunks: [] };
    const chunks = i32[w + SegmentWord.CHUNKS]!;
    w += SEGMENT_RECORD_WORDS;
    seg.chunks = Array.from(u32.subarray(w, w + chunks));
    w += chunks;
    let quantizer: { scale: number; offset: Float32Array } | undefined;
    if (quantized) {
      quantizer = { scale, offset: f32.slice(w, w + dimension) };
      w += dimension;
    }
    if (nodes >= 0) {
      const graphPath = u8.toString('utf8', w * 4, w * 4 + path);
      seg.graph = quantizer ? { path: graphPath, nodes, dead, quantizer } : { path: graphPath, nodes, dead };
    }
    w += align4(path) >>> 2;
    segments.push(seg);
  }
  return {
    dimension,
    metric: METRIC_CODES[i32[DirectoryWord.METRIC]!]!,
    settings: {
      m: i32[DirectoryWord.M]!,
      efConstruction: i32[DirectoryWord.EF_CONSTRUCTION]!,
      efSearch: i32[DirectoryWord.EF_SEARCH]!,
      storage: STORAGE_KINDS[i32[DirectoryWord.STORAGE]!]!,
    },
    segments,
  };
}
