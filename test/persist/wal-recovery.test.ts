import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Wal, type WalOptions } from '../../src/persist/wal.js';
import {
  RECORD_HEADER_BYTES,
  SEGMENT_HEADER_BYTES,
  encodeRecord,
  encodeSegmentHeader,
  parseSegmentName,
  segmentName,
} from '../../src/persist/wal-format.js';
import { crashPayload } from '../fixtures/wal-crash-child.js';

const PAYLOAD = 40;
const FRAME = RECORD_HEADER_BYTES + PAYLOAD;

let root: string;
let dirs = 0;
const newDir = (): string => join(root, `wal-${++dirs}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hotvec-wal-recovery-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

function payloadFor(seq: number): Uint8Array {
  const bytes = new Uint8Array(PAYLOAD);
  for (let i = 0; i < PAYLOAD; i++) bytes[i] = (seq * 31 + i * 7) & 0xff;
  return bytes;
}

/** Byte offset of record `seq` in a single-segment WAL of fixed-size records starting at seq 1. */
const recordOffset = (seq: number): number => SEGMENT_HEADER_BYTES + (seq - 1) * FRAME;

async function writeRecords(options: WalOptions, count: number): Promise<void> {
  const wal = await Wal.open(options);
  await Promise.all(Array.from({ length: count }, (_, i) => wal.append(payloadFor(i + 1)).durable));
  await wal.close();
}

async function seqsOf(wal: Wal): Promise<number[]> {
  const seqs = [];
  for await (const r of wal.replay(0)) {
    assert.deepEqual(Uint8Array.from(r.payload), payloadFor(r.seq), `payload of seq ${r.seq}`);
    seqs.push(r.seq);
  }
  return seqs;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Reopens the damaged WAL, checks it holds 1..lastGood, appends one record and checks that survives. */
async function reopenAndContinue(options: WalOptions, lastGood: number): Promise<Wal['recovery']> {
  const wal = await Wal.open(options);
  const recovery = wal.recovery;
  assert.equal(recovery.lastSeq, lastGood);
  assert.equal(recovery.records, lastGood);
  assert.deepEqual(await seqsOf(wal), range(1, lastGood));
  const next = wal.append(payloadFor(lastGood + 1));
  assert.equal(next.seq, lastGood + 1);
  await next.durable;
  await wal.close();

  const again = await Wal.open(options);
  assert.equal(again.recovery.detail, null, 'the second open finds a clean WAL');
  assert.deepEqual(await seqsOf(again), range(1, lastGood + 1));
  await again.close();
  return recovery;
}

describe('wal recovery: a damaged single segment', () => {
  test('a record cut mid-way is dropped and appends continue from the one before', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always' };
    await writeRecords(options, 10);
    const file = join(dir, segmentName(1));
    await truncate(file, recordOffset(10) + 20);
    const recovery = await reopenAndContinue(options, 9);
    assert.equal(recovery.truncatedBytes, 20);
    assert.deepEqual(recovery.corruptSegments, [], 'a torn tail is a crash artifact, not kept');
    assert.match(recovery.detail ?? '', /torn/);
  });

  test('a cut inside a record header is dropped too', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always' };
    await writeRecords(options, 5);
    await truncate(join(dir, segmentName(1)), recordOffset(5) + 7);
    assert.equal((await reopenAndContinue(options, 4)).truncatedBytes, 7);
  });

  test('garbage after the last record is cut and every record kept', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always' };
    await writeRecords(options, 10);
    await appendFile(join(dir, segmentName(1)), Buffer.alloc(100, 0xab));
    const recovery = await reopenAndContinue(options, 10);
    assert.equal(recovery.truncatedBytes, 100);
  });

  test('a zero-filled tail is cut as a torn write', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always' };
    await writeRecords(options, 3);
    await appendFile(join(dir, segmentName(1)), Buffer.alloc(4096));
    const recovery = await reopenAndContinue(options, 3);
    assert.equal(recovery.truncatedBytes, 4096);
    assert.deepEqual(recovery.corruptSegments, []);
  });

  test('a flipped byte in the middle record keeps the prefix and sets the rest aside for forensics', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always' };
    await writeRecords(options, 3);
    const file = join(dir, segmentName(1));
    const original = await readFile(file);
    const damaged = Buffer.from(original);
    damaged[recordOffset(2) + RECORD_HEADER_BYTES + 10]! ^= 0x01;
    await writeFile(file, damaged);

    const recovery = await reopenAndContinue(options, 1);
    assert.equal(recovery.truncatedBytes, 2 * FRAME);
    assert.match(recovery.detail ?? '', /checksum/);
    assert.equal(recovery.corruptSegments.length, 1);
    const [tail] = recovery.corruptSegments;
    assert.match(tail!, /^00000000000000000001\.wal\.tail\.\d+\.corrupt$/);
    assert.deepEqual(await readFile(join(dir, tail!)), damaged.subarray(recordOffset(2)));
  });

  test('a record with a good checksum but an out-of-order seq counts as a gap', async () => {
    const dir = newDir();
    await mkdir(dir);
    const frames = [1, 2, 4, 5].map((seq) => encodeRecord(seq, payloadFor(seq)));
    await writeFile(join(dir, segmentName(1)), Buffer.concat([encodeSegmentHeader(1), ...frames]));
    const recovery = await reopenAndContinue({ dir, fsync: 'always' }, 2);
    assert.match(recovery.detail ?? '', /gap.*seq 4, expected 3/);
    assert.equal(recovery.truncatedBytes, 2 * FRAME);
    assert.equal(recovery.corruptSegments.length, 1);
  });

  test('an empty last segment left by a crash while rolling is removed', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always' };
    await writeRecords(options, 4);
    await writeFile(join(dir, segmentName(5)), Buffer.alloc(0));
    const recovery = await reopenAndContinue(options, 4);
    assert.deepEqual(recovery.corruptSegments, []);
    assert.match(recovery.detail ?? '', /removed/);
  });
});

describe('wal recovery: damage across segments', () => {
  async function setup(): Promise<{ options: WalOptions; firsts: number[] }> {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always', segmentBytes: 200 };
    await writeRecords(options, 30);
    const firsts = (await readdir(dir)).map(parseSegmentName).filter((s): s is number => s !== null);
    firsts.sort((a, b) => a - b);
    assert.ok(firsts.length >= 5, `expected several segments, got ${firsts.length}`);
    return { options, firsts };
  }

  test('corruption in an early segment sets every later segment aside; appends continue after the last good seq', async () => {
    const { options, firsts } = await setup();
    const second = join(options.dir, segmentName(firsts[1]!));
    const bytes = await readFile(second);
    bytes[SEGMENT_HEADER_BYTES + FRAME + RECORD_HEADER_BYTES]! ^= 0xff; // payload of its second record
    await writeFile(second, bytes);

    const recovery = await reopenAndContinue(options, firsts[1]!);
    assert.equal(recovery.truncatedBytes, bytes.length - SEGMENT_HEADER_BYTES - FRAME);
    const later = firsts.slice(2).map((s) => new RegExp(`^${segmentName(s).replace('.', '\\.')}\\.\\d+\\.corrupt$`));
    const asideSegments = recovery.corruptSegments.filter((n) => !n.includes('.tail.'));
    assert.equal(asideSegments.length, later.length);
    asideSegments.forEach((name, i) => assert.match(name, later[i]!));
    // Set-aside files stay on disk under their new names, and no longer parse as segments.
    const listing = await readdir(options.dir);
    for (const name of recovery.corruptSegments) assert.ok(listing.includes(name), name);
    assert.match(recovery.detail ?? '', /later segment file\(s\) set aside/);
  });

  test('a missing middle segment is a gap: the segments after it are set aside', async () => {
    const { options, firsts } = await setup();
    await unlink(join(options.dir, segmentName(firsts[2]!)));
    const recovery = await reopenAndContinue(options, firsts[2]! - 1);
    assert.equal(recovery.corruptSegments.length, firsts.length - 3);
    assert.equal(recovery.truncatedBytes, 0);
    assert.match(recovery.detail ?? '', /starts at seq \d+, expected \d+/);
  });

  test('a segment whose header is damaged is set aside with the ones after it', async () => {
    const { options, firsts } = await setup();
    const third = join(options.dir, segmentName(firsts[2]!));
    const bytes = await readFile(third);
    bytes[0] = 0;
    await writeFile(third, bytes);
    const recovery = await reopenAndContinue(options, firsts[2]! - 1);
    assert.equal(recovery.corruptSegments.length, firsts.length - 2);
    assert.match(recovery.detail ?? '', /bad magic/);
  });
});

describe('wal recovery: a process killed mid-stream', () => {
  test('every seq acknowledged before SIGKILL is on disk after reopening', async () => {
    const dir = newDir();
    const child = fileURLToPath(new URL('../fixtures/wal-crash-child.js', import.meta.url));
    const proc = spawn(process.execPath, [child, dir, '1000000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const printed: number[] = [];
    let partial = '';
    let stderr = '';
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = once(proc, 'exit');
    await new Promise<void>((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
      proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) printed.push(Number(line));
        if (printed.length >= 2000) resolve();
      });
    });
    proc.kill('SIGKILL');
    const [code, signal] = await exited;
    assert.equal(signal, 'SIGKILL', `child ended by ${signal}, code ${code}: ${stderr}`);

    const wal = await Wal.open({ dir, fsync: 'always', segmentBytes: 32 * 1024 });
    const onDisk = new Set<number>();
    let last = 0;
    for await (const r of wal.replay(0)) {
      assert.equal(r.seq, last + 1, 'seqs are contiguous');
      assert.deepEqual(Uint8Array.from(r.payload), crashPayload(r.seq));
      onDisk.add(r.seq);
      last = r.seq;
    }
    const missing = printed.filter((seq) => !onDisk.has(seq));
    assert.deepEqual(missing, [], 'acknowledged seqs missing after the crash');
    assert.ok(wal.recovery.lastSeq >= Math.max(...printed));
    assert.ok((await stat(join(dir, segmentName(1)))).size > 0);
    const { seq } = wal.append(crashPayload(last + 1));
    assert.equal(seq, last + 1);
    await wal.close();
  });
});
