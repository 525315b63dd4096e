/**
 * Opening a WAL folder: find the segments, check every record, and cut the log at the first
 * damage so the WAL continues as an unbroken sequence. See wal.ts for the log itself and
 * wal-format.ts for the bytes.
 */
import { open, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { fsyncPath } from './fsync.js';
import { join } from 'node:path';
import { SEGMENT_HEADER_BYTES, checkSegmentHeader, parseSegmentName, scanRecords } from './wal-format.js';
import type { WalRecovery } from './wal.js';

export interface Segment {
  firstSeq: number;
  name: string;
}

export interface Recovered {
  recovery: WalRecovery;
  segments: Segment[];
  activeSize: number;
  activeRecords: number;
}

/**
 * Scans every segment in seq order and stops at the first damage: a torn or corrupt record,
 * a bad header, or a seq that does not follow the one before (a gap, also across files).
 * The damaged segment is cut at its last good record and every later segment is set aside,
 * so the WAL continues as an unbroken sequence from the last good seq.
 */
export async function recover(dir: string): Promise<Recovered> {
  const found = (await readdir(dir))
    .map((name) => ({ name, firstSeq: parseSegmentName(name) }))
    .filter((s): s is Segment => s.firstSeq !== null)
    .sort((a, b) => a.firstSeq - b.firstSeq);
  const recovery: WalRecovery = { records: 0, lastSeq: 0, truncatedBytes: 0, corruptSegments: [], detail: null };
  const segments: Segment[] = [];
  const stamp = Date.now();
  // Without any good record, appends start where the oldest file says the log starts, so a
  // damaged WAL never hands out a seq that may already be in Chroma.
  let expected = found[0]?.firstSeq ?? 1;
  let activeSize = 0;
  let activeRecords = 0;
  let dirChanged = false;

  let laterSetAside = 0;
  const setAside = async (name: string, why: string | null): Promise<void> => {
    const to = `${name}.${stamp}.corrupt`;
    await rename(join(dir, name), join(dir, to));
    recovery.corruptSegments.push(to);
    if (why === null) laterSetAside++;
    recovery.detail ??= why;
    dirChanged = true;
  };

  for (let i = 0; i < found.length; i++) {
    const { name, firstSeq } = found[i]!;
    if (recovery.detail !== null) {
      await setAside(name, null);
      continue;
    }
    if (firstSeq !== expected) {
      await setAside(name, `${name}: starts at seq ${firstSeq}, expected ${expected}; set aside as *.corrupt`);
      continue;
    }
    const path = join(dir, name);
    const bytes = await readFile(path);
    const header = checkSegmentHeader(bytes, firstSeq);
    if (!header.ok) {
      if (header.reason === 'short' && i === found.length - 1) {
        // A crash while starting a segment: nothing in it was ever acknowledged.
        await unlink(path);
        recovery.truncatedBytes += bytes.byteLength;
        recovery.detail = `${name}: ${header.detail}; removed the incomplete segment`;
        dirChanged = true;
      } else {
        await setAside(name, `${name}: ${header.detail}; set aside as *.corrupt`);
      }
      continue;
    }
    const scan = scanRecords(bytes, SEGMENT_HEADER_BYTES, firstSeq);
    let goodEnd = SEGMENT_HEADER_BYTES;
    let records = 0;
    let r = scan.next();
    for (; !r.done; r = scan.next()) {
      goodEnd = r.value.end;
      expected = r.value.seq + 1;
      records++;
    }
    segments.push({ name, firstSeq });
    recovery.records += records;
    activeSize = goodEnd;
    activeRecords = records;
    const stop = r.value;
    if (stop === null) continue;
    const cut = bytes.byteLength - goodEnd;
    if (stop.reason !== 'torn') {
      // A complete record that fails its checksum, or a seq out of order, is not what a crash
      // leaves behind: keep the bytes for whoever investigates.
      const tail = `${name}.tail.${stamp}.corrupt`;
      await writeFile(join(dir, tail), bytes.subarray(goodEnd));
      recovery.corruptSegments.push(tail);
    }
    const handle = await open(path, 'r+');
    try {
      await handle.truncate(goodEnd);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    recovery.truncatedBytes += cut;
    recovery.detail =
      `${name}: ${stop.reason} record at byte ${stop.offset} (${stop.detail}); ` +
      `cut ${cut} bytes, last good seq ${expected - 1}`;
  }
  if (laterSetAside > 0) recovery.detail += `; ${laterSetAside} later segment file(s) set aside as *.corrupt`;
  if (dirChanged) await fsyncPath(dir);
  recovery.lastSeq = expected - 1;
  return { recovery, segments, activeSize, activeRecords };
}
