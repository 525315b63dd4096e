/**
 * The cache inside the query operation, with the engine's real parts (index, worker pool,
 * WAL, write-behind into a real Chroma): hits skip the pool, every kind of write is seen by
 * the next query, and an answer computed across a write is not cached. The pool is wrapped
 * only to count searches and to hold one answer back at a fixed point.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QueryCache, queryCacheFor } from '../../src/cache/query-cache.js';
import { resolveConfig } from '../../src/config.js';
import { ChromaTier } from '../../src/persist/chroma-tier.js';
import { WriteBehindFlusher } from '../../src/persist/flusher.js';
import { Wal } from '../../src/persist/wal.js';
import { QueryPool, scratchSlotsFor } from '../../src/pool/pool.js';
import { createCollection, deleteCollection, deleteRecords, query, upsert, type ServiceContext } from '../../src/service/index.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { startTestChroma, uniqueCollectionName, type TestChroma } from '../helpers/chroma.js';
import { randomVectors } from '../helpers/hotvec.js';
import { bruteForce, sameNeighbours } from '../helpers/reference.js';

let chroma: TestChroma;
let dir: string;
let wal: Wal;
let flusher: WriteBehindFlusher;
let realPool: QueryPool;
let index: VectorIndex;

/** Counts searches; when `hold` is set, the next search scans, reports it, then waits to be released. */
const probe = {
  searches: 0,
  hold: undefined as undefined | { scanned: () => void; release: Promise<void> },
};

function context(cache: QueryCache | undefined): ServiceContext {
  const pool = {
    async search(...args: Parameters<QueryPool['search']>) {
      probe.searches++;
      const r = await realPool.search(...args);
      const hold = probe.hold;
      probe.hold = undefined;
      if (hold) {
        hold.scanned();
        await hold.release;
      }
      return r;
    },
  } as unknown as QueryPool;
  return { config: resolveConfig({}), index, pool, wal, flusher, cache, ready: () => true };
}

before(async () => {
  chroma = await startTestChroma();
  dir = await mkdtemp(join(tmpdir(), 'hotvec-cache-'));
  wal = await Wal.open({ dir, fsync: 'everysec' });
  const tier = new ChromaTier({ url: chroma.url, tenant: 'default_tenant', database: 'default_database', collectionPrefix: `${uniqueCollectionName('c')}_` });
  const onCheckpoint = async (seq: number): Promise<void> => {
    await wal.truncateBefore(seq + 1);
  };
  flusher = new WriteBehindFlusher({ tier, intervalMs: 20, onCheckpoint });
  wal.on('sync', () => flusher.markDurable(wal.durableSeq));
  index = new VectorIndex({ maxBytes: 256 * 1024 * 1024, maxDimension: 64, scratchSlots: scratchSlotsFor(2) });
  realPool = new QueryPool({ memory: index.arena.memory, scratch: index.arena.scratch, workers: 2, maxQueue: 1000 });
});

after(async () => {
  await realPool?.close();
  await flusher?.flush(10_000);
  await flusher?.close(0);
  await wal?.close();
  await rm(dir, { recursive: true, force: true });
  await chroma?.close();
});

const dim = 16;

interface Answer {
  ids: string[][];
  distances?: number[][];
}

/** The collection as the test believes it is, and a query checked against brute force over it. */
class Model {
  readonly data = new Map<string, number[]>();
  constructor(
    readonly ctx: ServiceContext,
    readonly name: string,
  ) {}

  async upsert(ids: string[], vectors: number[][]): Promise<void> {
    await upsert(this.ctx, this.name, { ids, embeddings: vectors });
    ids.forEach((id, i) => this.data.set(id, vectors[i]!));
  }

  async delete(ids: string[]): Promise<void> {
    await deleteRecords(this.ctx, this.name, { ids });
    for (const id of ids) this.data.delete(id);
  }

  /** Queries, checks the answer against brute force, and says whether the pool was asked. */
  async check(q: number[], label: string): Promise<{ searched: boolean; answer: Answer }> {
    const before = probe.searches;
    const answer = (await query(this.ctx, this.name, { embeddings: [q], k: 5 })) as Answer;
    const problem = sameNeighbours({ ids: answer.ids[0]!, distances: answer.distances![0]! }, bruteForce('l2', this.data, q, Math.min(5, this.data.size)));
    assert.equal(problem, null, `${label}: ${problem}`);
    return { searched: probe.searches > before, answer };
  }
}

test('a repeated query is answered without the pool, and the hit equals the computed answer', async () => {
  const cache = new QueryCache({ maxBytes: 1 << 22, admission: 'first' });
  const ctx = context(cache);
  const name = uniqueCollectionName('hit');
  await createCollection(ctx, { name, dimension: dim });
  const m = new Model(ctx, name);
  await m.upsert(['a', 'b', 'c', 'd', 'e', 'f'], randomVectors(6, dim, 1));
  const q = randomVectors(1, dim, 2)[0]!;
  const first = await m.check(q, 'first');
  assert.equal(first.searched, true);
  const second = await m.check(q, 'second');
  assert.equal(second.searched, false, 'the hit did not reach the pool');
  assert.deepEqual(second.answer, first.answer);
  assert.deepEqual(cache.stats(), { hits: 1, misses: 1, notAdmitted: 0, bytes: cache.stats().bytes, entries: 1 });
  // Same vector, another k: its own entry.
  await query(ctx, name, { embeddings: [q], k: 2 });
  assert.equal(cache.stats().misses, 2);
  await deleteCollection(ctx, name);
});

test('every kind of write is seen by the next identical query', async () => {
  const cache = new QueryCache({ maxBytes: 1 << 22, admission: 'first' });
  const ctx = context(cache);
  const name = uniqueCollectionName('inv');
  await createCollection(ctx, { name, dimension: dim });
  const m = new Model(ctx, name);
  const base = randomVectors(50, dim, 10);
  await m.upsert(base.map((_, i) => `r${i}`), base);
  const q = randomVectors(1, dim, 11)[0]!;

  const cachedNow = async (label: string): Promise<void> => {
    await m.check(q, `${label} (fills)`);
    assert.equal((await m.check(q, `${label} (cached)`)).searched, false, `${label}: the second identical query is a hit`);
  };
  const afterWrite = async (label: string): Promise<Answer> => {
    const r = await m.check(q, label);
    assert.equal(r.searched, true, `${label}: answered by the pool, not the cache`);
    return r.answer;
  };

  await cachedNow('start');
  await m.upsert(['new'], [q]); // a new record, exactly the query
  assert.equal((await afterWrite('upsert of a new id')).ids[0]![0], 'new');

  await cachedNow('before overwrite');
  const far = q.map((x) => x + 10);
  await m.upsert(['new'], [far]); // overwrite: the same id moves away
  assert.notEqual((await afterWrite('overwrite')).ids[0]![0], 'new');

  await cachedNow('before delete');
  const nearest = (await m.check(q, 'nearest')).answer.ids[0]![0]!;
  await m.delete([nearest]);
  assert.ok(!(await afterWrite('delete')).ids[0]!.includes(nearest));

  await cachedNow('before drop');
  const entries = cache.stats().entries;
  await deleteCollection(ctx, name);
  assert.ok(cache.stats().entries < entries, 'the drop freed the collection’s entries');
  await assert.rejects(query(ctx, name, { embeddings: [q], k: 5 }), { code: 'HOTVEC_COLLECTION_NOT_FOUND' });

  // Re-created with the same name and other data: nothing of the old collection comes back.
  await createCollection(ctx, { name, dimension: dim });
  const m2 = new Model(ctx, name);
  const other = randomVectors(7, dim, 12);
  await m2.upsert(other.map((_, i) => `s${i}`), other);
  const again = await m2.check(q, 're-created');
  assert.equal(again.searched, true);
  assert.ok(again.answer.ids[0]!.every((id) => id.startsWith('s')));
  await deleteCollection(ctx, name);
});

test('a query in flight while a write lands is answered but not cached', async () => {
  const cache = new QueryCache({ maxBytes: 1 << 22, admission: 'first' });
  const ctx = context(cache);
  const name = uniqueCollectionName('race');
  await createCollection(ctx, { name, dimension: dim });
  const m = new Model(ctx, name);
  const base = randomVectors(40, dim, 20);
  await m.upsert(base.map((_, i) => `r${i}`), base);
  const q = randomVectors(1, dim, 21)[0]!;

  let scanned!: () => void;
  const scanDone = new Promise<void>((resolve) => (scanned = resolve));
  let release!: () => void;
  probe.hold = { scanned, release: new Promise<void>((resolve) => (release = resolve)) };
  const inFlight = query(ctx, name, { embeddings: [q], k: 5 }) as Promise<Answer>;
  await scanDone; // the scan is over; its answer is held back
  const write = m.upsert(['exact'], [q]); // lands while the query is in flight
  release();
  const stale = await inFlight;
  await write;
  assert.ok(!stale.ids[0]!.includes('exact'), 'the in-flight answer was scanned before the write');
  assert.equal(cache.stats().entries, 0, 'and it was not cached');
  const fresh = await m.check(q, 'after the write');
  assert.equal(fresh.searched, true);
  assert.equal(fresh.answer.ids[0]![0], 'exact');
  await deleteCollection(ctx, name);
});

test('with cacheBytes 0 there is no cache and every query reaches the pool', async () => {
  assert.equal(queryCacheFor(0), undefined);
  assert.ok(queryCacheFor(1024) instanceof QueryCache);
  assert.equal(resolveConfig({ cacheBytes: 0 }).cacheBytes, 0);
  assert.equal(resolveConfig({}).cacheBytes, 64 * 1024 * 1024);
  const ctx = context(queryCacheFor(resolveConfig({ cacheBytes: 0 }).cacheBytes));
  const name = uniqueCollectionName('off');
  await createCollection(ctx, { name, dimension: dim });
  const m = new Model(ctx, name);
  await m.upsert(['a', 'b'], randomVectors(2, dim, 30));
  const q = randomVectors(1, dim, 31)[0]!;
  assert.equal((await m.check(q, 'first')).searched, true);
  assert.equal((await m.check(q, 'second')).searched, true);
  await deleteCollection(ctx, name);
});
