/**
 * The shared collection catalog (catalog.ts): a reader finds each collection's current view by
 * name; every write publishes a new view with a new generation before it could be acknowledged
 * (by the end of the microtasks of its step); a replaced entry stays readable while a reader
 * pinned before it was replaced, and is freed after; drops and re-creations are seen.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CatalogReader, type CatalogView } from '../../src/vector-index/catalog.js';
import { DirectoryReader } from '../../src/vector-index/directory.js';
import { CATALOG_SLOTS, CHUNK_SLOTS } from '../../src/vector-index/layout.js';
import { ReaderEpochs } from '../../src/vector-index/reader-epochs.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';

const MiB = 1 << 20;
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(): { ix: VectorIndex; reader: CatalogReader; directory: DirectoryReader; epochs: ReaderEpochs } {
  const ix = new VectorIndex({ maxBytes: 64 * MiB, maxDimension: 16, scratchSlots: 2, segmentRecords: CHUNK_SLOTS, catalog: true });
  return { ix, reader: new CatalogReader(ix.arena.memory, ix.catalog!.offset), directory: new DirectoryReader(ix.arena.memory), epochs: new ReaderEpochs(ix.arena.memory) };
}

const put = (ix: VectorIndex, seq: number, n: number, name = 'c'): void =>
  ix.apply({ t: 'upsert', seq, collection: name, ids: Array.from({ length: n }, (_, i) => `r${seq}-${i}`), embeddings: new Float32Array(n * 4).fill(seq) });

test('a reader finds each collection by name, with its current view, from the moment it is created', () => {
  const { ix, reader, directory } = setup();
  assert.equal(reader.lookup('c'), undefined);
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: 4, metric: 'l2' });
  ix.apply({ t: 'create', seq: 2, collection: 'd', dimension: 8, metric: 'cosine' });
  const c = reader.lookup('c')!;
  const d = reader.lookup('d')!;
  assert.equal(directory.read(c.entry!).dimension, 4);
  assert.equal(directory.read(d.entry!).metric, 'cosine');
  assert.deepEqual(directory.read(c.entry!).segments, []);
  assert.equal(c.entry!.offset, ix.require('c').searchView().target.directory.offset, "the catalog names the collection's own view");
  assert.notEqual(c.generation, d.generation);
  assert.equal(reader.lookup('e'), undefined);
  assert.equal(reader.overflowed, false);
});

test('every write publishes a new view and generation by the end of its step, before anything could acknowledge it', async () => {
  const { ix, reader, directory } = setup();
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: 4, metric: 'l2' });
  const seen: CatalogView[] = [reader.lookup('c')!];
  const steps: (() => void)[] = [
    () => put(ix, 2, 10),
    () => put(ix, 3, CHUNK_SLOTS + 5), // fills and freezes a segment, opens another
    () => ix.apply({ t: 'delete', seq: 4, collection: 'c', ids: ['r2-0'] }),
    () => put(ix, 5, 1),
  ];
  for (const step of steps) {
    step();
    await Promise.resolve(); // the publication is a microtask of the step
    const now = reader.lookup('c')!;
    assert.ok(now.generation > seen.at(-1)!.generation, 'a new generation');
    assert.equal(now.entry!.offset, ix.require('c').searchView().target.directory.offset, 'the current view');
    seen.push(now);
  }
  const segments = directory.read(seen.at(-1)!.entry!).segments;
  assert.equal(segments.length, 2, 'the frozen segment and the growing one');
  // A delete is a tombstone in shared memory; the view still changes (a sealed segment's dead count is in it).
  assert.equal(ix.require('c').count, 10 + CHUNK_SLOTS + 5 - 1 + 1);
});

test('a replaced entry stays readable for a reader pinned before it was replaced, and is freed once it unpins', async () => {
  const { ix, reader, directory, epochs } = setup();
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: 4, metric: 'l2' });
  put(ix, 2, 10);
  await settle();
  epochs.pin(1);
  const held = reader.lookup('c')!;
  const before = ix.arena.usedBytes;
  for (let s = 3; s < 50; s++) {
    put(ix, s, 1);
    await Promise.resolve();
  }
  assert.doesNotThrow(() => directory.read(held.entry!), 'pinned: not freed');
  assert.ok(ix.arena.usedBytes > before, 'the replaced entries wait for the pinned reader');
  epochs.unpin(1);
  put(ix, 50, 1); // the next retirement frees what no reader holds
  await Promise.resolve();
  // The reclaimer looks again every few ms at retirements held by another thread's pin.
  for (let i = 0; i < 100 && ix.reclaimer.pending > 1; i++) await new Promise((r) => setTimeout(r, 5));
  assert.throws(() => directory.read(held.entry!), /freed while still in use/);
  assert.ok(ix.reclaimer.pending <= 1, `${ix.reclaimer.pending} retirements left`);
});

test('a dropped collection is gone for readers; one re-created under its name is found with a new generation', async () => {
  const { ix, reader } = setup();
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: 4, metric: 'l2' });
  const first = reader.lookup('c')!;
  ix.apply({ t: 'drop', seq: 2, collection: 'c' });
  await settle();
  assert.equal(reader.lookup('c'), undefined);
  ix.apply({ t: 'create', seq: 3, collection: 'c', dimension: 8, metric: 'l2' });
  const again = reader.lookup('c')!;
  assert.ok(again.generation > first.generation);
  assert.equal(new DirectoryReader(ix.arena.memory).read(again.entry!).dimension, 8);
  // Names of every length the API allows (128 characters).
  const long = 'n'.repeat(127) + '1';
  ix.apply({ t: 'create', seq: 4, collection: long, dimension: 2, metric: 'l2' });
  assert.ok(reader.lookup(long));
  assert.equal(reader.lookup(long.slice(1)), undefined);
});

test('more collections than the catalog has slots: the rest are not found, the reader is told, and they get the slots freed later', async () => {
  const ix = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 4, scratchSlots: 1, segmentRecords: CHUNK_SLOTS, catalog: true });
  const reader = new CatalogReader(ix.arena.memory, ix.catalog!.offset);
  for (let i = 0; i <= CATALOG_SLOTS; i++) ix.apply({ t: 'create', seq: i + 1, collection: `c${i}`, dimension: 2, metric: 'l2' });
  assert.ok(reader.lookup(`c${CATALOG_SLOTS - 1}`));
  assert.equal(reader.lookup(`c${CATALOG_SLOTS}`), undefined);
  assert.equal(reader.overflowed, true);
  // A freed slot goes to the collection that waited for one, with its current view.
  ix.apply({ t: 'upsert', seq: 1e6, collection: `c${CATALOG_SLOTS}`, ids: ['a'], embeddings: new Float32Array([1, 2]) });
  ix.apply({ t: 'drop', seq: 1e6 + 1, collection: 'c0' });
  assert.equal(reader.lookup('c0'), undefined);
  const waited = reader.lookup(`c${CATALOG_SLOTS}`);
  assert.ok(waited?.entry, 'the waiting collection is found once a slot is free');
  assert.equal(waited.entry.offset, ix.require(`c${CATALOG_SLOTS}`).searchView().target.directory.offset, 'with its current view');
  assert.equal(reader.overflowed, false);
  // Its later writes are published as any slotted collection's.
  ix.apply({ t: 'upsert', seq: 1e6 + 2, collection: `c${CATALOG_SLOTS}`, ids: ['b'], embeddings: new Float32Array([3, 4]) });
  await settle();
  assert.ok(reader.lookup(`c${CATALOG_SLOTS}`)!.generation > waited.generation);
  // Full again: the next one waits; a dropped waiter leaves the queue, so the slot freed next goes to the one after it.
  ix.apply({ t: 'create', seq: 1e6 + 3, collection: 'late', dimension: 2, metric: 'l2' });
  ix.apply({ t: 'create', seq: 1e6 + 4, collection: 'later', dimension: 2, metric: 'l2' });
  assert.equal(reader.lookup('late'), undefined);
  ix.apply({ t: 'drop', seq: 1e6 + 5, collection: 'late' });
  assert.equal(reader.overflowed, true, "'later' still waits");
  ix.apply({ t: 'drop', seq: 1e6 + 6, collection: 'c1' });
  assert.ok(reader.lookup('later'));
  assert.equal(reader.lookup('late'), undefined);
  assert.equal(reader.overflowed, false);
  // And with no one waiting, a freed slot is taken by the next collection created.
  ix.apply({ t: 'drop', seq: 1e6 + 7, collection: 'c2' });
  ix.apply({ t: 'create', seq: 1e6 + 8, collection: 'new', dimension: 2, metric: 'l2' });
  assert.ok(reader.lookup('new'));
  assert.equal(reader.overflowed, false);
  // A collection that got its slot by waiting gives it up like any other.
  ix.apply({ t: 'create', seq: 1e6 + 9, collection: 'last', dimension: 2, metric: 'l2' });
  assert.equal(reader.overflowed, true);
  ix.apply({ t: 'drop', seq: 1e6 + 10, collection: `c${CATALOG_SLOTS}` });
  assert.equal(reader.lookup(`c${CATALOG_SLOTS}`), undefined);
  assert.ok(reader.lookup('last'));
  assert.equal(reader.overflowed, false);
  // Re-creating a name while every slot is taken keeps its slot (the drop inside a re-create seats no one).
  ix.apply({ t: 'create', seq: 1e6 + 11, collection: 'waits', dimension: 2, metric: 'l2' });
  ix.apply({ t: 'create', seq: 1e6 + 12, collection: 'c3', dimension: 2, metric: 'l2' });
  assert.ok(reader.lookup('c3'));
  assert.equal(reader.lookup('waits'), undefined);
  assert.equal(reader.overflowed, true);
});

test('a waiting collection handed a slot is not found until its view is published, and counts as unslotted until then', () => {
  const ix = new VectorIndex({ maxBytes: 256 * MiB, maxDimension: 4, scratchSlots: 1, segmentRecords: CHUNK_SLOTS, catalog: true });
  const reader = new CatalogReader(ix.arena.memory, ix.catalog!.offset);
  for (let i = 0; i < CATALOG_SLOTS; i++) ix.apply({ t: 'create', seq: i + 1, collection: `c${i}`, dimension: 2, metric: 'l2' });
  const seen: { found: boolean; overflowed: boolean }[] = [];
  const slot = ix.catalog!.add({
    name: 'w',
    slotted: (s) => {
      // What a worker reading now would find: named, not published.
      seen.push({ found: reader.lookup('w') !== undefined, overflowed: reader.overflowed });
      ix.catalog!.publish(s, null);
      seen.push({ found: reader.lookup('w') !== undefined, overflowed: reader.overflowed });
    },
  });
  assert.equal(slot, -1);
  ix.apply({ t: 'drop', seq: 1e6, collection: 'c7' });
  assert.deepEqual(seen, [
    { found: false, overflowed: true },
    { found: true, overflowed: true },
  ]);
  assert.equal(reader.overflowed, false, 'once published it is no longer counted');
  const published = reader.lookup('w')!;
  assert.equal(published.entry, null);
  assert.ok(published.generation > 0);
});

test('an arena without room for a new view (its headroom too): the write still succeeds, the catalog names no view until one fits again', async () => {
  const ix = new VectorIndex({ maxBytes: 8 * MiB, maxDimension: 16, scratchSlots: 2, segmentRecords: CHUNK_SLOTS, catalog: true });
  const reader = new CatalogReader(ix.arena.memory, ix.catalog!.offset);
  const epochs = new ReaderEpochs(ix.arena.memory);
  ix.apply({ t: 'create', seq: 1, collection: 'c', dimension: 16, metric: 'l2' });
  let seq = 2;
  assert.throws(() => {
    for (;;) ix.apply({ t: 'upsert', seq: seq++, collection: 'c', ids: Array.from({ length: 200 }, (_, i) => `r${seq}-${i}`), embeddings: new Float32Array(200 * 16) });
  }, /INDEX_FULL|arena is full/);
  const ids = [...Array(3).keys()].flatMap((b) => Array.from({ length: 200 }, (_, i) => `r${b + 3}-${i}`));
  // A reader pinned meanwhile holds every entry replaced after it pinned: the headroom fills with them.
  epochs.pin(1);
  let unavailable = false;
  for (const id of ids) {
    ix.apply({ t: 'delete', seq: seq++, collection: 'c', ids: [id] }); // must not throw, now or in its microtask
    await Promise.resolve();
    const now = reader.lookup('c');
    assert.ok(now, 'the collection is still known');
    if (now.entry === null) unavailable = true;
  }
  assert.ok(unavailable, 'the headroom ran out while the reader held the replaced entries');
  epochs.unpin(1);
  await new Promise((r) => setTimeout(r, 20)); // the reclaimer's poll frees what the pin held
  ix.apply({ t: 'delete', seq: seq++, collection: 'c', ids: ['r6-0'] });
  await Promise.resolve();
  const back = reader.lookup('c')!;
  assert.notEqual(back.entry, null, 'a view again once room was freed');
  assert.equal(back.entry!.offset, ix.require('c').searchView().target.directory.offset);
});
