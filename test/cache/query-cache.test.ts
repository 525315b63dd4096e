/**
 * The hot-query cache on its own: what makes two lookups the same, the byte bound, exact
 * invalidation (including an answer computed across a write), and answers callers cannot
 * change. Most tests admit on the first miss (`admission: 'first'`) to look at the LRU alone;
 * the default admission (`repeat`) has its own tests at the end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Doorkeeper, fingerprint } from '../../src/cache/doorkeeper.js';
import { queryKey } from '../../src/cache/key.js';
import { QueryCache } from '../../src/cache/query-cache.js';
import { entryBytes } from '../../src/cache/result.js';
import type { QueryResult } from '../../src/service/query.js';

const vec = (...xs: number[]): Float32Array => Float32Array.from(xs);
const answer = (...ids: string[]): QueryResult => ({ ids: [ids], distances: [ids.map((_, i) => i / 10)] });

/** Looks up and, on a miss, fills with `result`; returns whether it was a hit. */
function ask(cache: QueryCache, collection: string, vectors: Float32Array, result: QueryResult, k = 2, include: string[] = ['distances']): { hit: boolean; got: QueryResult } {
  const l = cache.lookup({ collection, vectors, k, include });
  if (l.hit) return { hit: true, got: l.hit };
  return { hit: false, got: l.fill(result) };
}

test('an identical query is a hit; any difference in vector, k, include, options or collection is a miss', () => {
  const cache = new QueryCache({ maxBytes: 1 << 20, admission: 'first' });
  const q = vec(1, 2, 3);
  assert.equal(ask(cache, 'a', q, answer('x', 'y')).hit, false);
  const again = ask(cache, 'a', vec(1, 2, 3), answer('other'));
  assert.equal(again.hit, true);
  assert.deepEqual(again.got, answer('x', 'y'));
  assert.equal(ask(cache, 'a', vec(1, 2, 3.0000002), answer('z')).hit, false, 'one ulp apart');
  assert.equal(ask(cache, 'a', q, answer('z'), 3).hit, false, 'other k');
  assert.equal(ask(cache, 'a', q, answer('z'), 2, ['distances', 'documents']).hit, false, 'other include');
  assert.equal(ask(cache, 'a', q, answer('z'), 2, ['documents', 'distances']).hit, true, 'include order does not matter');
  assert.equal(ask(cache, 'b', q, answer('z')).hit, false, 'other collection');
  const withEf = cache.lookup({ collection: 'a', vectors: q, k: 2, include: ['distances'], options: { ef: 64 } });
  assert.equal(withEf.hit, undefined, 'a search option makes another key');
  assert.deepEqual(cache.stats(), { hits: 2, misses: 6, notAdmitted: 0, bytes: cache.stats().bytes, entries: 5 });
  assert.ok(cache.stats().bytes > 0);
});

test('key options: undefined ones are ignored, order does not matter, types are kept apart', () => {
  const base = { collection: 'c', version: 3, vectors: vec(1, 2), k: 5, include: ['distances'] };
  assert.equal(queryKey({ ...base, options: { ef: 64, exact: undefined } }), queryKey({ ...base, options: { ef: 64 } }));
  assert.equal(queryKey({ ...base, options: { exact: true, ef: 64 } }), queryKey({ ...base, options: { ef: 64, exact: true } }));
  assert.notEqual(queryKey({ ...base, options: { ef: '64' } }), queryKey({ ...base, options: { ef: 64 } }));
  assert.notEqual(queryKey({ ...base, options: {} }), queryKey({ ...base, options: { exact: false } }));
  assert.notEqual(queryKey({ ...base, version: 4 }), queryKey(base));
  assert.notEqual(queryKey({ ...base, vectors: vec(-0, 2) }), queryKey({ ...base, vectors: vec(0, 2) }), 'bytes, not values');
});

test('the cache stays within its byte bound and evicts the least recently used answers', () => {
  const probe = answer('id-0000', 'id-0001');
  const one = entryBytes(queryKey({ collection: 'c', version: 0, vectors: vec(0, 0, 0, 0), k: 2, include: ['distances'] }), probe);
  const bound = one * 10 + Math.floor(one / 2);
  const cache = new QueryCache({ maxBytes: bound, admission: 'first' });
  for (let i = 0; i < 10; i++) ask(cache, 'c', vec(i, 0, 0, 0), answer(`id-${String(i).padStart(4, '0')}`, 'id-0001'));
  assert.equal(cache.stats().entries, 10);
  assert.equal(ask(cache, 'c', vec(0, 0, 0, 0), probe).hit, true, 'touch the oldest: it becomes the most recent');
  for (let i = 10; i < 40; i++) {
    ask(cache, 'c', vec(i, 0, 0, 0), answer(`id-${String(i).padStart(4, '0')}`, 'id-0001'));
    assert.ok(cache.stats().bytes <= bound, `bytes ${cache.stats().bytes} within the bound after ${i}`);
  }
  assert.equal(cache.stats().entries, 10);
  assert.equal(ask(cache, 'c', vec(1, 0, 0, 0), probe).hit, false, 'an old entry was evicted');
  assert.equal(ask(cache, 'c', vec(39, 0, 0, 0), probe).hit, true, 'the newest is still there');
});

test('answers larger than an entry may be are not kept, and the bound holds', () => {
  const cache = new QueryCache({ maxBytes: 4096, maxEntryBytes: 1024, admission: 'first' });
  const big: QueryResult = { ids: [Array.from({ length: 100 }, (_, i) => `a-long-identifier-${i}`)] };
  ask(cache, 'c', vec(1), big);
  assert.equal(cache.stats().entries, 0);
  // Vectors alone over the entry bound: not even a key is built.
  const l = cache.lookup({ collection: 'c', vectors: new Float32Array(300), k: 1, include: [] });
  assert.equal(l.fill(answer('x')).ids[0]![0], 'x');
  assert.deepEqual(cache.stats(), { hits: 0, misses: 2, notAdmitted: 0, bytes: 0, entries: 0 });
});

test('invalidate drops the collection’s entries at once and leaves other collections alone', () => {
  const cache = new QueryCache({ maxBytes: 1 << 20, admission: 'first' });
  for (let i = 0; i < 5; i++) ask(cache, 'a', vec(i), answer(`a${i}`));
  for (let i = 0; i < 3; i++) ask(cache, 'b', vec(i), answer(`b${i}`));
  const before = cache.stats();
  assert.equal(before.entries, 8);
  const v = cache.version('a');
  cache.invalidate('a');
  assert.ok(cache.version('a') > v);
  const after = cache.stats();
  assert.equal(after.entries, 3, 'a’s five entries are gone, not just unreachable');
  assert.ok(after.bytes < before.bytes);
  assert.equal(ask(cache, 'a', vec(0), answer('new')).hit, false);
  assert.equal(ask(cache, 'b', vec(0), answer('x')).hit, true);
});

test('an answer computed across a write is handed to its caller but never cached', () => {
  const cache = new QueryCache({ maxBytes: 1 << 20, admission: 'first' });
  const inFlight = cache.lookup({ collection: 'a', vectors: vec(1, 2), k: 2, include: ['distances'] });
  cache.invalidate('a'); // a write lands while the query runs
  const stale = answer('old');
  assert.deepEqual(inFlight.fill(stale), stale);
  assert.equal(cache.stats().entries, 0);
  assert.equal(ask(cache, 'a', vec(1, 2), answer('new')).hit, false);
  assert.deepEqual(ask(cache, 'a', vec(1, 2), answer('unused')).got, answer('new'));
});

test('drop then re-create with the same name never revives an old version', () => {
  const cache = new QueryCache({ maxBytes: 1 << 20, admission: 'first' });
  const versions = new Set([cache.version('a')]);
  // Each of these is one commit on "a": create, upsert, drop, create again, upsert.
  for (let i = 0; i < 5; i++) {
    const l = cache.lookup({ collection: 'a', vectors: vec(1), k: 1, include: [] });
    cache.invalidate('a');
    assert.ok(!versions.has(cache.version('a')), `version ${cache.version('a')} is new`);
    versions.add(cache.version('a'));
    l.fill(answer(`stale${i}`));
  }
  assert.equal(cache.stats().entries, 0);
});

test('callers cannot change what the cache serves next', () => {
  const cache = new QueryCache({ maxBytes: 1 << 20, admission: 'first' });
  const storeMeta = { lang: 'en' };
  const emb = vec(0.5, 0.25);
  const fresh: QueryResult = { ids: [['x']], distances: [[0.1]], metadatas: [[storeMeta]], documents: [['doc']], embeddings: [[emb]] };
  const first = ask(cache, 'c', vec(1), fresh, 1, ['distances', 'metadatas', 'documents', 'embeddings']).got;
  const second = ask(cache, 'c', vec(1), fresh, 1, ['distances', 'metadatas', 'documents', 'embeddings']);
  assert.equal(second.hit, true);
  for (const r of [first, second.got]) {
    assert.throws(() => r.ids[0]!.push('y'), TypeError);
    assert.throws(() => {
      r.distances![0]![0] = 9;
    }, TypeError);
    assert.throws(() => {
      (r.metadatas![0]![0] as Record<string, string>).lang = 'de';
    }, TypeError);
    assert.throws(() => {
      r.ids = [];
    }, TypeError);
    r.embeddings![0]![0]![0] = 42; // typed arrays cannot be frozen: each caller gets its own copy
  }
  assert.equal(Object.isFrozen(storeMeta), false, 'the store’s own metadata object is not frozen');
  emb[0] = 7; // the store's copy changing later does not reach the cache either
  const third = ask(cache, 'c', vec(1), fresh, 1, ['distances', 'metadatas', 'documents', 'embeddings']);
  assert.equal(third.hit, true);
  assert.deepEqual(third.got.ids, [['x']]);
  assert.deepEqual(third.got.distances, [[0.1]]);
  assert.deepEqual(third.got.metadatas, [[{ lang: 'en' }]]);
  assert.deepEqual([...third.got.embeddings![0]![0]!], [0.5, 0.25]);
});

test('admission repeat (default): an answer is kept on the second miss of a query, then hits', () => {
  const cache = new QueryCache({ maxBytes: 1 << 20 });
  const q = vec(1, 2, 3);
  assert.equal(ask(cache, 'a', q, answer('x')).hit, false);
  assert.equal(cache.stats().entries, 0, 'a query seen once is not kept');
  assert.equal(ask(cache, 'a', vec(1, 2, 3), answer('x')).hit, false);
  assert.equal(cache.stats().entries, 1, 'seen before: kept');
  const third = ask(cache, 'a', q, answer('other'));
  assert.equal(third.hit, true);
  assert.deepEqual(third.got, answer('x'));
  // Another k, collection or option is another query for the doorkeeper too.
  assert.equal(ask(cache, 'a', q, answer('y'), 3).hit, false);
  assert.equal(ask(cache, 'b', q, answer('y')).hit, false);
  assert.equal(cache.lookup({ collection: 'a', vectors: q, k: 2, include: ['distances'], options: { ef: 64 } }).hit, undefined);
  assert.equal(cache.stats().entries, 1, 'first sightings are not kept');
  assert.deepEqual(cache.stats(), { hits: 1, misses: 5, notAdmitted: 4, bytes: cache.stats().bytes, entries: 1 });
});

test('admission repeat: distinct queries never fill the cache; a write does not make a repeated query new', () => {
  const cache = new QueryCache({ maxBytes: 1 << 20 });
  for (let i = 0; i < 1000; i++) ask(cache, 'a', vec(i, 0.5), answer(`x${i}`));
  assert.equal(cache.stats().entries, 0);
  assert.equal(cache.stats().notAdmitted, 1000);
  ask(cache, 'a', vec(1, 2), answer('old'));
  cache.invalidate('a'); // a write: the answer must be computed again, once
  assert.equal(ask(cache, 'a', vec(1, 2), answer('new')).hit, false);
  const hit = ask(cache, 'a', vec(1, 2), answer('unused'));
  assert.equal(hit.hit, true, 'kept on its first miss after the write: it had been seen before');
  assert.deepEqual(hit.got, answer('new'));
});

test('doorkeeper: remembers recent fingerprints, forgets overwritten slots, tells salts apart', () => {
  const d = new Doorkeeper(4);
  assert.equal(d.seenBefore(fingerprint(vec(1), 's')), false);
  assert.equal(d.seenBefore(fingerprint(vec(1), 's')), true);
  assert.equal(d.seenBefore(fingerprint(vec(1), 't')), false, 'another salt is another query');
  assert.notEqual(fingerprint(vec(1, 2), 's'), fingerprint(vec(2, 1), 's'), 'order matters');
  assert.notEqual(fingerprint(vec(0), ''), fingerprint(vec(-0), ''), 'bit patterns, not values');
  // With 4 slots, 64 other queries overwrite every slot: the first one is forgotten.
  for (let i = 0; i < 64; i++) d.seenBefore(fingerprint(vec(100 + i), 's'));
  assert.equal(d.seenBefore(fingerprint(vec(1), 's')), false);
  // Distinct random queries into a large table: a few collisions at most, never a false "seen" storm.
  const big = new Doorkeeper(1 << 16);
  let falseSeen = 0;
  for (let i = 0; i < 5000; i++) if (big.seenBefore(fingerprint(vec(i, i * 0.5, -i), 'c'))) falseSeen++;
  assert.ok(falseSeen < 5, `${falseSeen} false sightings among 5000 distinct queries`);
});

test('a fingerprint shared by every query never serves another query\'s answer, and eviction and writes keep the print counts right', () => {
  const cache = new QueryCache({ maxBytes: 1 << 20, admission: 'first', fingerprint: () => 42 });
  assert.equal(ask(cache, 'a', vec(1, 2), answer('x')).hit, false);
  assert.equal(ask(cache, 'a', vec(3, 4), answer('y')).hit, false, 'same print, other vectors: a miss');
  assert.deepEqual(ask(cache, 'a', vec(1, 2), answer('other')).got, answer('x'));
  assert.deepEqual(ask(cache, 'a', vec(3, 4), answer('other')).got, answer('y'));
  assert.equal(ask(cache, 'b', vec(1, 2), answer('z')).hit, false, 'same print, other collection: a miss');
  cache.invalidate('a');
  assert.equal(ask(cache, 'a', vec(1, 2), answer('x2')).hit, false, 'after a write');
  assert.deepEqual(ask(cache, 'b', vec(1, 2), answer('other')).got, answer('z'), 'the other collection keeps its answer');
  cache.clear();
  assert.equal(ask(cache, 'b', vec(1, 2), answer('z2')).hit, false, 'after clear');
  assert.deepEqual(ask(cache, 'b', vec(1, 2), answer('other')).got, answer('z2'));
});

test('with the real fingerprint a miss builds no key until an answer with its print is kept; evicted answers stop being candidates', () => {
  const probe = answer('id-0000');
  const one = entryBytes(queryKey({ collection: 'c', version: 0, vectors: vec(0, 0), k: 2, include: ['distances'] }), probe);
  const cache = new QueryCache({ maxBytes: one * 2, maxEntryBytes: one * 2, admission: 'first' });
  for (let i = 0; i < 50; i++) ask(cache, 'c', vec(i, 0), answer(`id-${String(i).padStart(4, '0')}`));
  assert.equal(cache.stats().entries, 2, 'only the two most recent are kept');
  const prints = (cache as unknown as { prints: Map<number, number> }).prints;
  assert.equal([...prints.values()].reduce((a, b) => a + b, 0), 2, 'evictions uncount their prints');
  assert.equal(ask(cache, 'c', vec(49, 0), probe).hit, true);
  assert.equal(ask(cache, 'c', vec(0, 0), probe).hit, false, 'evicted');
  cache.invalidate('c');
  assert.equal(prints.size, 0, 'a write uncounts every print of the collection');
});

test('options are checked: an entry bound above the cache bound is refused (the LRU would keep a negative size)', () => {
  assert.throws(() => new QueryCache({ maxBytes: 1000, maxEntryBytes: 2000 }), /maxEntryBytes must be a positive integer no larger than maxBytes \(1000\), got 2000/);
  assert.throws(() => new QueryCache({ maxBytes: 1000, maxEntryBytes: 0 }), RangeError);
  assert.throws(() => new QueryCache({ maxBytes: 0 }), /maxBytes must be a positive integer/);
  assert.doesNotThrow(() => new QueryCache({ maxBytes: 1000, maxEntryBytes: 1000 }));
});
