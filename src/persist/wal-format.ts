/**
 * On-disk format of the write-ahead log: segment files, their header, record framing and
 * the CRC-32C that guards each record. Pure functions over bytes; no I/O lives here.
 *
 * A segment file is named by the seq of its first record, zero-padded to 20 digits so that
 * names sort like numbers (`00000000000000000001.wal`). Its layout, little-endian:
 *
 *   offset 0                    16
 *   ┌──────────┬────────┬────────┬──────────────────────────────┬────────────────────────┐
 *   │ magic u32│ ver u32│firstSeq│ record │ record │ …            │ (tail: torn on a crash) │
 *   │ "HVWL"   │   1    │  u64   │                              │                        │
 *   └──────────┴────────┴────────┴──────────────────────────────┴────────────────────────┘
 *
 *   record: 0            4              8           16
 *           ┌────────────┬──────────────┬───────────┬──────────────────┐
 *           │ length u32 │ crc32c u32   │ seq u64   │ payload (length) │
 *           └────────────┴──────────────┴───────────┴──────────────────┘
 *   crc32c covers the 8 seq bytes followed by the payload, so a record copied to the wrong
 *   place (or a seq field hit by a bit flip) fails its checksum like a damaged payload does.
 *
 * The header repeats the first seq so a file renamed by hand is caught rather than replayed
 * under the wrong numbers.
 */
import { crc32c } from './crc32c.js';

/** "HVWL" read as a little-endian u32. */
export const SEGMENT_MAGIC = 0x4c575648;
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 16;
/** Payload length is a u32 on disk. */
export const MAX_PAYLOAD_BYTES = 0xffff_ffff;

const SEGMENT_NAME = /^(\d{20})\.wal$/;

export function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}.wal`;
}

/** The first seq encoded in a segment file name, or null when the name is not a segment's. */
export function parseSegmentName(name: string): number | null {
  const m = SEGMENT_NAME.exec(name);
  if (m === null) return null;
  const seq = Number(m[1]);
  return Number.isSafeInteger(seq) ? seq : null;
}

// ── Encoding ────────────────────────────────────────────────────────────────────────────

function writeU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

function readU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 0x1_0000_0000;
}

export function encodeSegmentHeader(firstSeq: number): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  view.setUint32(0, SEGMENT_MAGIC, true);
  view.setUint32(4, SEGMENT_VERSION, true);
  writeU64(view, 8, firstSeq);
  return buf;
}

/**
 * One framed record, header and payload in a single new buffer. Copying the payload here is
 * deliberate: the caller may reuse its buffer as soon as `append` returns, and the copy lets
 * a batch go to disk as one contiguous iovec per record.
 */
export function encodeRecord(seq: number, payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.byteLength);
  const view = new DataView(buf.buffer, buf.byteOffset, RECORD_HEADER_BYTES);
  view.setUint32(0, payload.byteLength, true);
  writeU64(view, 8, seq);
  buf.set(payload, RECORD_HEADER_BYTES);
  // seq bytes and payload are adjacent in the frame, so one pass covers both.
  view.setUint32(4, crc32c(buf.subarray(8)), true);
  return buf;
}

// ── Decoding ────────────────────────────────────────────────────────────────────────────

export type SegmentHeaderCheck =
  | { ok: true }
  | { ok: false; reason: 'short' | 'magic' | 'version' | 'first-seq'; detail: string };

export function checkSegmentHeader(bytes: Uint8Array, expectedFirstSeq: number): SegmentHeaderCheck {
  if (bytes.byteLength < SEGMENT_HEADER_BYTES) {
    return { ok: false, reason: 'short', detail: `header is ${bytes.byteLength} of ${SEGMENT_HEADER_BYTES} bytes` };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SEGMENT_HEADER_BYTES);
  const magic = view.getUint32(0, true);
  if (magic !== SEGMENT_MAGIC) {
    return { ok: false, reason: 'magic', detail: `bad magic 0x${magic.toString(16)}` };
  }
  const version = view.getUint32(4, true);
  if (version !== SEGMENT_VERSION) {
    return { ok: false, reason: 'version', detail: `unsupported version ${version} (expected ${SEGMENT_VERSION})` };
  }
  const firstSeq = readU64(view, 8);
  if (firstSeq !== expectedFirstSeq) {
    return { ok: false, reason: 'first-seq', detail: `header says first seq ${firstSeq}, file name says ${expectedFirstSeq}` };
  }
  return { ok: true };
}

/** Why a scan stopped before the end of the bytes. */
export type StopReason =
  /** The bytes end inside a record, or only zeros follow: what a crash mid-write leaves. */
  | 'torn'
  /** A complete record whose checksum does not match. */
  | 'checksum'
  /** A record whose checksum matches but whose seq is not the next one expected. */
  | 'gap';

export interface ScannedRecord {
  seq: number;
  /** A view into the scanned bytes, not a copy. */
  payload: Uint8Array;
  /** Offset just past this record. */
  end: number;
}

export interface ScanStop {
  reason: StopReason;
  /** Offset of the first byte that is not part of a good record. */
  offset: number;
  detail: string;
}

/**
 * Walks the records of one segment from `offset`, expecting seqs `firstSeq`, `firstSeq + 1`, ….
 * Yields every good record and returns where and why it stopped, or null at a clean end.
 */
export function* scanRecords(
  bytes: Uint8Array,
  offset: number,
  firstSeq: number,
): Generator<ScannedRecord, ScanStop | null, void> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let expected = firstSeq;
  while (offset < bytes.byteLength) {
    const stop = (reason: StopReason, detail: string): ScanStop =>
      reason !== 'torn' && allZero(bytes, offset)
        ? { reason: 'torn', offset, detail: 'zero-filled tail' }
        : { reason, offset, detail };
    if (bytes.byteLength - offset < RECORD_HEADER_BYTES) {
      return stop('torn', `${bytes.byteLength - offset} bytes left, less than a record header`);
    }
    const length = view.getUint32(offset, true);
    const end = offset + RECORD_HEADER_BYTES + length;
    if (end > bytes.byteLength) {
      return stop('torn', `record of ${length} bytes runs ${end - bytes.byteLength} bytes past the end`);
    }
    const stored = view.getUint32(offset + 4, true);
    const actual = crc32c(bytes.subarray(offset + 8, end));
    if (stored !== actual) {
      return stop('checksum', `checksum 0x${actual.toString(16)} does not match stored 0x${stored.toString(16)}`);
    }
    const seq = readU64(view, offset + 8);
    if (seq !== expected) return stop('gap', `record has seq ${seq}, expected ${expected}`);
    yield { seq, payload: bytes.subarray(offset + RECORD_HEADER_BYTES, end), end };
    offset = end;
    expected++;
  }
  return null;
}

function allZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.byteLength; i++) if (bytes[i] !== 0) return false;
  return true;
}
