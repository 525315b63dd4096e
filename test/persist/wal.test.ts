import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HotvecError } from '../../src/errors.js';
import { Wal, type WalOptions, type WalSyncEvent } from '../../src/persist/wal.js';
import { crc32c } from '../../src/persist/crc32c.js';
import { parseSegmentName, segmentName } from '../../src/persist/wal-format.js';

let root: string;
let dirs = 0;
const newDir = (): string => join(root, `wal-${++dirs}`);

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'hotvec-wal-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A payload whose bytes depend on `seq`, so a record read back under the wrong seq is caught. */
function payloadFor(seq: number, length = 40): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (seq * 31 + i * 7) & 0xff;
  return bytes;
}

async function readAll(wal: Wal, afterSeq = 0): Promise<{ seq: number; payload: Uint8Array }[]> {
  const out = [];
  for await (const r of wal.replay(afterSeq)) out.push({ seq: r.seq, payload: Uint8Array.from(r.payload) });
  return out;
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => parseSegmentName(n) !== null).sort();
}

async function appendMany(wal: Wal, count: number, length = 40): Promise<number[]> {
  const seqs: number[] = [];
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const { seq, durable } = wal.append(payloadFor(wal.lastSeq + 1, length));
    seqs.push(seq);
    pending.push(durable);
  }
  await Promise.all(pending);
  return seqs;
}

function assertWalError(code: string): (err: unknown) => boolean {
  return (err) => err instanceof HotvecError && err.code === code;
}

describe('wal format', () => {
  test('crc32c matches the published check value and RFC 3720 vectors', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  test('crc32c can be continued across chunks of any alignment', () => {
    const bytes = payloadFor(7, 1000);
    const whole = crc32c(bytes);
    for (const cut of [1, 3, 8, 13, 999]) {
      assert.equal(crc32c(bytes.subarray(cut), crc32c(bytes.subarray(0, cut))), whole, `cut at ${cut}`);
    }
  });

  test('crc32c agrees with the bit-at-a-time definition at every length and offset, and past one copy into its memory', () => {
    const bitwise = (bytes: Uint8Array): number => {
      let c = 0xffffffff;
      for (const b of bytes) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
      }
      return ~c >>> 0;
    };
    let x = 2463534242;
    const bytes = Uint8Array.from({ length: 300_000 }, () => { // more than the 122,880 bytes copied at once
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x & 0xff;
    });
    for (let len = 0; len <= 40; len++) for (let off = 0; off < 8; off++) assert.equal(crc32c(bytes.subarray(off, off + len)), bitwise(bytes.subarray(off, off + len)), `${len} bytes at ${off}`);
    assert.equal(crc32c(bytes), bitwise(bytes));
    assert.equal(crc32c(bytes.subarray(5, 122_885 + 7)), bitwise(bytes.subarray(5, 122_885 + 7)));
  });

  test('segment names sort like their seqs and parse back', () => {
    assert.equal(segmentName(1), '00000000000000000001.wal');
    assert.equal(parseSegmentName(segmentName(9_007_199_254_740_991)), 9_007_199_254_740_991);
    assert.equal(parseSegmentName('00000000000000000001.wal.123.corrupt'), null);
    assert.equal(parseSegmentName('1.wal'), null);
  });
});

describe('wal options', () => {
  const bad: [string, Partial<WalOptions>, RegExp][] = [
    ['dir', { dir: '' }, /wal\.dir/],
    ['fsync', { fsync: 'sometimes' as never }, /wal\.fsync/],
    ['segmentBytes (too small)', { segmentBytes: 10 }, /wal\.segmentBytes/],
    ['segmentBytes (not an integer)', { segmentBytes: 1000.5 }, /wal\.segmentBytes/],
  ];
  for (const [name, override, message] of bad) {
    test(`rejects an invalid ${name}`, async () => {
      await assert.rejects(Wal.open({ dir: newDir(), fsync: 'always', ...override }), (err) => {
        assert.ok(err instanceof HotvecError);
        assert.equal(err.code, 'HOTVEC_INVALID_CONFIG');
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

describe('wal', () => {
  test('round trip: records come back in order with their payloads, after reopening too', async () => {
    const dir = newDir();
    const wal = await Wal.open({ dir, fsync: 'always' });
    assert.deepEqual(wal.recovery, { records: 0, lastSeq: 0, truncatedBytes: 0, corruptSegments: [], detail: null });
    const payloads = [Buffer.from('first'), new Uint8Array(0), payloadFor(3, 5000)];
    const results = payloads.map((p) => wal.append(p));
    assert.deepEqual(results.map((r) => r.seq), [1, 2, 3]);
    await Promise.all(results.map((r) => r.durable));
    assert.equal(wal.durableSeq, 3);
    assert.deepEqual(await readAll(wal), payloads.map((p, i) => ({ seq: i + 1, payload: Uint8Array.from(p) })));
    await wal.close();

    const reopened = await Wal.open({ dir, fsync: 'always' });
    assert.deepEqual(reopened.recovery, { records: 3, lastSeq: 3, truncatedBytes: 0, corruptSegments: [], detail: null });
    assert.equal(reopened.lastSeq, 3);
    assert.equal(reopened.durableSeq, 3);
    assert.deepEqual(await readAll(reopened), payloads.map((p, i) => ({ seq: i + 1, payload: Uint8Array.from(p) })));
    await reopened.close();
  });

  test('append copies the payload, so the caller may reuse its buffer at once', async () => {
    const dir = newDir();
    const wal = await Wal.open({ dir, fsync: 'always' });
    const buf = Buffer.from('original');
    const { durable } = wal.append(buf);
    buf.write('modified');
    await durable;
    assert.equal(Buffer.from((await readAll(wal))[0]!.payload).toString(), 'original');
    await wal.close();
  });

  test('seqs stay contiguous across segment rolls and reopen', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always', segmentBytes: 256 };
    const wal = await Wal.open(options);
    assert.deepEqual(await appendMany(wal, 50), Array.from({ length: 50 }, (_, i) => i + 1));
    await wal.close();

    const files = await segmentFiles(dir);
    assert.ok(files.length > 5, `expected several segments, got ${files.length}`);
    // Each file is named by its first record: the names step by the records per segment.
    const firsts = files.map((f) => parseSegmentName(f)!);
    assert.equal(firsts[0], 1);
    for (let i = 1; i < firsts.length; i++) assert.ok(firsts[i]! > firsts[i - 1]!);

    const reopened = await Wal.open(options);
    assert.equal(reopened.recovery.records, 50);
    assert.equal(reopened.recovery.lastSeq, 50);
    assert.deepEqual(await appendMany(reopened, 10), Array.from({ length: 10 }, (_, i) => i + 51));
    const all = await readAll(reopened);
    assert.deepEqual(all.map((r) => r.seq), Array.from({ length: 60 }, (_, i) => i + 1));
    for (const r of all) assert.deepEqual(r.payload, payloadFor(r.seq));
    await reopened.close();

    const again = await Wal.open(options);
    assert.equal(again.recovery.records, 60);
    assert.equal(again.recovery.detail, null);
    await again.close();
  });

  test('group commit: 1000 appends in one tick share few syncs and resolve in seq order', async () => {
    const wal = await Wal.open({ dir: newDir(), fsync: 'always' });
    const syncs: WalSyncEvent[] = [];
    wal.on('sync', (e: WalSyncEvent) => syncs.push(e));
    const resolved: number[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 1000; i++) {
      const { seq, durable } = wal.append(payloadFor(i + 1));
      pending.push(durable.then(() => void resolved.push(seq)));
    }
    await Promise.all(pending);
    assert.ok(syncs.length < 1000, `${syncs.length} syncs for 1000 appends`);
    assert.equal(syncs.reduce((n, e) => n + e.records, 0), 1000);
    assert.equal(syncs.reduce((n, e) => n + e.bytes, 0), 1000 * (16 + 40));
    assert.deepEqual(resolved, Array.from({ length: 1000 }, (_, i) => i + 1));
    assert.equal(wal.durableSeq, 1000);
    await wal.close();
  });

  test('group commit: appends made while a commit is in flight go out together in the next one', async () => {
    const wal = await Wal.open({ dir: newDir(), fsync: 'always' });
    const syncs: number[] = [];
    wal.on('sync', (e: WalSyncEvent) => syncs.push(e.records));
    const first = wal.append(payloadFor(1));
    // Let the commit start (it waits one microtask to gather same-tick appends).
    await Promise.resolve();
    assert.equal(wal.pendingBytes, 0, 'the first record is in flight');
    const rest = [];
    for (let i = 2; i <= 500; i++) rest.push(wal.append(payloadFor(i)));
    assert.equal(wal.pendingBytes, 499 * 56);
    assert.equal(wal.durableSeq, 0);
    await Promise.all([first.durable, ...rest.map((r) => r.durable)]);
    assert.deepEqual(syncs, [1, 499]);
    await wal.close();
  });

  test('replay(afterSeq) yields only later records, across segments', async () => {
    const wal = await Wal.open({ dir: newDir(), fsync: 'always', segmentBytes: 200 });
    await appendMany(wal, 30);
    const seqs = async (afterSeq: number): Promise<number[]> => (await readAll(wal, afterSeq)).map((r) => r.seq);
    assert.deepEqual(await seqs(0), Array.from({ length: 30 }, (_, i) => i + 1));
    assert.deepEqual(await seqs(17), Array.from({ length: 13 }, (_, i) => i + 18));
    assert.deepEqual(await seqs(29), [30]);
    assert.deepEqual(await seqs(30), []);
    assert.deepEqual(await seqs(100), []);
    for (const r of await readAll(wal, 10)) assert.deepEqual(r.payload, payloadFor(r.seq));
    await wal.close();
  });

  test('truncateBefore deletes only segments wholly before seq and keeps the one holding it', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always', segmentBytes: 200 };
    const wal = await Wal.open(options);
    await appendMany(wal, 40);
    const before = (await segmentFiles(dir)).map((f) => parseSegmentName(f)!);
    assert.ok(before.length >= 4);
    // A seq in the middle of the third segment: the first two go, the third stays.
    const target = before[2]! + 1;
    assert.ok(target < before[3]!);
    assert.equal(await wal.truncateBefore(target), 2);
    assert.deepEqual((await segmentFiles(dir)).map((f) => parseSegmentName(f)!), before.slice(2));
    assert.deepEqual((await readAll(wal, target - 1)).map((r) => r.seq)[0], target);
    // The first seq of a segment keeps that segment (it holds the record), and no earlier one.
    assert.equal(await wal.truncateBefore(before[3]!), 1);
    assert.equal(parseSegmentName((await segmentFiles(dir))[0]!), before[3]);
    assert.equal(await wal.truncateBefore(before[3]!), 0);
    await wal.close();

    const reopened = await Wal.open(options);
    assert.equal(reopened.recovery.detail, null);
    assert.equal(reopened.recovery.lastSeq, 40);
    assert.deepEqual((await readAll(reopened))[0]!.seq, before[3]);
    await reopened.close();
  });

  test('truncateBefore past the end keeps the newest segment, so seqs continue after reopen', async () => {
    const dir = newDir();
    const options: WalOptions = { dir, fsync: 'always', segmentBytes: 200 };
    const wal = await Wal.open(options);
    await appendMany(wal, 40);
    const files = await segmentFiles(dir);
    assert.equal(await wal.truncateBefore(1_000_000), files.length - 1);
    assert.deepEqual(await segmentFiles(dir), files.slice(-1));
    await wal.close();

    const reopened = await Wal.open(options);
    assert.equal(reopened.recovery.lastSeq, 40);
    assert.equal(reopened.append(payloadFor(41)).seq, 41);
    await reopened.close();
  });

  test('everysec: durable resolves after the write, and the timer fsyncs it within a second', async () => {
    const dir = newDir();
    const wal = await Wal.open({ dir, fsync: 'everysec' });
    let committed = 0;
    wal.on('sync', (e: WalSyncEvent) => (committed += e.records));
    let synced = 0;
    const allSynced = new Promise<void>((resolve) => {
      wal.on('fsync', (e: WalSyncEvent) => {
        synced += e.records;
        if (synced === 20) resolve();
      });
    });
    await appendMany(wal, 20);
    assert.equal(wal.durableSeq, 20);
    assert.equal(committed, 20);
    // The WAL's timer is unref'd (it must not keep a server alive); hold the loop open meanwhile.
    const keepAlive = setInterval(() => {}, 60_000);
    await allSynced;
    clearInterval(keepAlive);
    assert.equal(synced, 20);
    await wal.close();

    const reopened = await Wal.open({ dir, fsync: 'everysec' });
    assert.equal(reopened.recovery.records, 20);
    await reopened.close();
  });

  test('close writes and syncs what is queued, under either policy', async () => {
    for (const fsync of ['always', 'everysec'] as const) {
      const dir = newDir();
      const wal = await Wal.open({ dir, fsync, segmentBytes: 300 });
      let committed = 0;
      let fsynced = 0;
      wal.on('sync', (e: WalSyncEvent) => (committed += e.records));
      wal.on('fsync', (e: WalSyncEvent) => (fsynced += e.records));
      const results = Array.from({ length: 25 }, (_, i) => wal.append(payloadFor(i + 1)));
      const closed = wal.close();
      assert.equal(wal.close(), closed, 'close is idempotent');
      await closed;
      await Promise.all(results.map((r) => r.durable));
      assert.equal(committed, 25, fsync);
      // Under 'everysec' closing ends with an fdatasync of everything written.
      assert.equal(fsynced, fsync === 'everysec' ? 25 : 0, fsync);
      const reopened = await Wal.open({ dir, fsync });
      assert.equal(reopened.recovery.records, 25, fsync);
      await reopened.close();
    }
  });

  test('append after close throws NOT_READY and hands out no seq', async () => {
    const wal = await Wal.open({ dir: newDir(), fsync: 'always' });
    await appendMany(wal, 2);
    await wal.close();
    assert.throws(() => wal.append(payloadFor(3)), assertWalError('HOTVEC_NOT_READY'));
    assert.equal(wal.lastSeq, 2);
    await wal.close();
  });

  test('destroy rejects pending durable promises with WAL_FAILED', async () => {
    const wal = await Wal.open({ dir: newDir(), fsync: 'always' });
    const results = Array.from({ length: 10 }, (_, i) => wal.append(payloadFor(i + 1)));
    wal.destroy();
    for (const r of results) await assert.rejects(r.durable, assertWalError('HOTVEC_WAL_FAILED'));
    assert.throws(() => wal.append(payloadFor(11)), assertWalError('HOTVEC_NOT_READY'));
    wal.destroy();
    await wal.close();
  });

  test('a failed write rejects its records, emits error and refuses further appends', async () => {
    const dir = newDir();
    const wal = await Wal.open({ dir, fsync: 'always', segmentBytes: 64 });
    await wal.append(payloadFor(1)).durable;
    // The next record starts segment 2; a file already holding that name makes the roll fail.
    await writeFile(join(dir, segmentName(2)), 'in the way');
    const errors: unknown[] = [];
    wal.on('error', (err) => errors.push(err));
    const second = wal.append(payloadFor(2));
    const third = wal.append(payloadFor(3));
    await assert.rejects(second.durable, assertWalError('HOTVEC_WAL_FAILED'));
    await assert.rejects(third.durable, assertWalError('HOTVEC_WAL_FAILED'));
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof HotvecError && /EEXIST/.test(errors[0].message));
    assert.throws(() => wal.append(payloadFor(4)), assertWalError('HOTVEC_WAL_FAILED'));
    assert.equal(wal.durableSeq, 1);
    await wal.close();
  });
});
