/**
 * Directory entries (directory.ts): a collection's search view written into the arena reads
 * back the same on any thread (segments growing, frozen and sealed, f32/i8 graphs with their
 * quantiser, paths of any text); entries are freed through the reclaimer once a newer view
 * replaced them and no reader holds them; a reader that names a freed entry fails instead of
 * reading something else; the arena keeps headroom for entries when records fill it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Arena } from '../../src/vector-index/arena.js';
import { DirectoryReader, entryBytes, freeEntry, writeEntry, type DirectoryBody } from '../../src/vector-index/directory.js';
import { CHUNK_SLOTS, DIRECTORY_MIN_BYTES } from '../../src/vector-index/layout.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';

const MiB = 1024 * 1024;

const body = (): DirectoryBody => ({
  dimension: 5,
  metric: 'cosine',
  settings: { m: 24, efConstruction: 77, efSearch: 33, storage: 'i8' },
  segments: [
    { descriptorOffset: 4160, chunks: [0x10000, 0x90000000, 0xfffff000], graph: { path: '/data/segments/ü-日本/1.usearch', nodes: 3000, dead: 12, quantizer: { scale: 1 / 3, offset: Float32Array.from([0.5, -1, 2.25, 0, 1e-7]) } } },
    { descriptorOffset: 0x80000040, chunks: [0x20000], graph: { path: '/d/2.usearch', nodes: 1024, dead: 0 } },
    { descriptorOffset: 4288, chunks: [] },
    { descriptorOffset: 4352, chunks: [0x30000, 0x40000] },
  ],
});

test('an entry reads back exactly what was written, on this thread and on another', async () => {
  const arena = new Arena({ maxBytes: 64 * MiB, maxDimension: 8, scratchSlots: 1 });
  const want = body();
  const ref = writeEntry(arena, want);
  assert.equal(ref.bytes, entryBytes(want));
  assert.ok(ref.bytes >= DIRECTORY_MIN_BYTES && (ref.bytes & (ref.bytes - 1)) === 0, `a power of two: ${ref.bytes}`);
  const reader = new DirectoryReader(arena.memory);
  const got = reader.read(ref);
  assert.deepEqual(got, want);
  assert.equal(reader.read(ref), got, 'decoded once, then kept');
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     import(workerData.module).then(({ DirectoryReader }) => parentPort.postMessage(new DirectoryReader(workerData.memory).read(workerData.ref)));`,
    { eval: true, workerData: { memory: arena.memory, ref, module: new URL('../../src/vector-index/directory.js', import.meta.url).href } },
  );
  const there = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
  await worker.terminate();
  assert.deepEqual(there, want);
});

test('a reader that names an entry whose place was freed and written again fails, instead of reading the new one', () => {
  const arena = new Arena({ maxBytes: 64 * MiB, maxDimension: 8, scratchSlots: 1 });
  const reader = new DirectoryReader(arena.memory);
  const old = writeEntry(arena, body());
  assert.equal(reader.read(old).segments.length, 4);
  freeEntry(arena, old);
  assert.throws(() => reader.read(old), /freed while still in use/, 'freed: its serial is gone');
  const next = writeEntry(arena, { ...body(), settings: { ...body().settings, efSearch: 99 } });
  assert.equal(next.offset, old.offset, 'the same place, reused');
  assert.notEqual(next.serial, old.serial);
  assert.throws(() => reader.read(old), /freed while still in use/);
  assert.equal(reader.read(next).settings.efSearch, 99, 'the new entry, not the one kept from before');
});

test('a collection writes one entry per view and frees the one a write replaced once its readers are done', () => {
  const ix = new VectorIndex({ maxBytes: 64 * MiB, maxDimension: 16, scratchSlots: 1, segmentRecords: CHUNK_SLOTS });
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: 4, metric: 'l2' });
  const store = ix.require('c');
  const put = (seq: number, n: number): void => ix.apply({ t: 'upsert', seq, collection: 'c', ids: Array.from({ length: n }, (_, i) => `r${seq}-${i}`), embeddings: new Float32Array(n * 4).fill(seq) });
  put(2, 1500);
  const before = ix.arena.usedBytes;
  const reader = new DirectoryReader(ix.arena.memory);
  const epoch = ix.reclaimer.enter();
  const view = store.searchView();
  assert.equal(store.searchView(), view, 'the same view until a write');
  assert.equal(ix.arena.usedBytes, before + view.target.directory.bytes);
  assert.deepEqual(reader.read(view.target.directory).segments.map((s) => s.chunks.length), [1, 1], 'a frozen segment and a growing one');
  put(3, 10); // a new view from here on; the old entry is held by the reader that entered
  const next = store.searchView();
  assert.notEqual(next, view);
  assert.doesNotThrow(() => reader.read(view.target.directory), 'still there for its reader');
  ix.reclaimer.exit(epoch);
  assert.throws(() => reader.read(view.target.directory), /freed while still in use|serial/);
  ix.apply({ t: 'drop', seq: 4, collection: 'c' });
  assert.throws(() => reader.read(next.target.directory), /freed|serial/);
});

test('records cannot take the headroom: an arena full of records still has room for directory entries', () => {
  const ix = new VectorIndex({ maxBytes: 8 * MiB, maxDimension: 16, scratchSlots: 1, segmentRecords: CHUNK_SLOTS });
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: 16, metric: 'l2' });
  let seq = 2;
  assert.throws(() => {
    for (;;) ix.apply({ t: 'upsert', seq: seq++, collection: 'c', ids: Array.from({ length: 500 }, (_, i) => `r${seq}-${i}`), embeddings: new Float32Array(500 * 16) });
  }, /INDEX_FULL|arena is full/);
  const store = ix.require('c');
  assert.ok(store.count > 5_000, `${store.count} records`);
  // What little room the records left below the headroom, taken by other blocks.
  assert.throws(() => {
    for (;;) ix.arena.alloc(256);
  }, /arena is full/);
  // Views of ~100 segments (4 KiB entries), several held at once.
  const epoch = ix.reclaimer.enter();
  for (let i = 0; i < 10; i++) {
    ix.apply({ t: 'delete', seq: seq++, collection: 'c', ids: [`r3-${i}`] });
    assert.ok(store.searchView().target.directory.bytes > 0);
  }
  ix.reclaimer.exit(epoch);
  // A freed block in the headroom stays there: a record's block of the same size (an id page
  // is 64 KiB) cannot take it, an entry can.
  const arena = new Arena({ maxBytes: 8 * MiB, maxDimension: 8, scratchSlots: 1 });
  assert.throws(() => {
    for (;;) arena.alloc(64 * 1024);
  }, /arena is full/);
  const entry = arena.alloc(64 * 1024, true);
  arena.release(entry, 64 * 1024);
  assert.throws(() => arena.alloc(64 * 1024), /arena is full/);
  assert.equal(arena.alloc(64 * 1024, true), entry);
});
