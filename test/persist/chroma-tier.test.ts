/**
 * ChromaTier against a real Chroma: Chroma must hold exactly what hotvec wrote — an
 * overwrite drops old metadata keys and documents, a delete removes, scan returns it all.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChromaClient } from 'chromadb';
import { HotvecError } from '../../src/errors.js';
import { ChromaTier, type ChromaBatch } from '../../src/persist/chroma-tier.js';
import type { Metadata } from '../../src/persist/ops.js';
import { startTestChroma, uniqueCollectionName, type TestChroma } from '../helpers/chroma.js';

interface Rec {
  vector: number[];
  metadata: Metadata | null;
  document: string | null;
}

let chroma: TestChroma;
let tier: ChromaTier;

before(async () => {
  chroma = await startTestChroma();
  tier = new ChromaTier({ url: chroma.url });
});
after(async () => {
  await chroma?.close();
});

/** Everything the collection holds, by id, read through scan() in pages of `pageSize`. */
async function contents(name: string, dimension: number, pageSize = 1000): Promise<Map<string, Rec>> {
  const out = new Map<string, Rec>();
  for await (const page of tier.scan(name, pageSize)) {
    assert.equal(page.embeddings.length, page.ids.length * dimension);
    assert.equal(page.metadatas.length, page.ids.length);
    assert.equal(page.documents.length, page.ids.length);
    page.ids.forEach((id, i) => {
      assert.ok(!out.has(id), `scan returned ${id} twice`);
      out.set(id, {
        vector: [...page.embeddings.subarray(i * dimension, (i + 1) * dimension)],
        metadata: page.metadatas[i] ?? null,
        document: page.documents[i] ?? null,
      });
    });
  }
  return out;
}

function batchOf(records: [string, Rec][], extraDeletes: string[] = []): ChromaBatch {
  const ids = records.map(([id]) => id);
  return {
    deleteIds: [...ids, ...extraDeletes],
    upserts: {
      ids,
      embeddings: new Float32Array(records.flatMap(([, r]) => r.vector)),
      metadatas: records.map(([, r]) => r.metadata),
      documents: records.map(([, r]) => r.document),
    },
  };
}

describe('ChromaTier', () => {
  it('answers a heartbeat', async () => {
    await tier.heartbeat();
  });

  it('round-trips records: overwrite replaces the whole record, delete removes, scan returns exactly the state', async () => {
    const name = uniqueCollectionName();
    await tier.createCollection(name, { dimension: 3, metric: 'l2' });
    await tier.createCollection(name, { dimension: 3, metric: 'l2' }); // idempotent

    const model = new Map<string, Rec>([
      ['a', { vector: [1, 2, 3], metadata: { color: 'red', size: 3, ok: true }, document: 'first a' }],
      ['b', { vector: [0.5, -1.25, 1e-3], metadata: null, document: 'only a document' }],
      ['c', { vector: [7, 8, 9], metadata: { n: 1.5 }, document: null }],
      ['d', { vector: [0, 0, 1], metadata: null, document: null }],
    ]);
    await tier.applyBatch(name, batchOf([...model]));
    assert.deepEqual(await contents(name, 3), roundTripped(model));

    // Overwrite a without its old keys and without a document; b gains metadata, loses its
    // document; c is deleted; e is new.
    const next: [string, Rec][] = [
      ['a', { vector: [3, 2, 1], metadata: { shape: 'round' }, document: null }],
      ['b', { vector: [1, 1, 1], metadata: { k: 'v' }, document: null }],
      ['e', { vector: [4, 4, 4], metadata: null, document: '' }],
    ];
    await tier.applyBatch(name, batchOf(next, ['c']));
    for (const [id, r] of next) model.set(id, r);
    model.delete('c');
    assert.deepEqual(await contents(name, 3), roundTripped(model));
    assert.equal(await tier.count(name), model.size);

    // A batch without metadatas/documents arrays at all stores records with neither.
    await tier.applyBatch(name, { deleteIds: ['d'], upserts: { ids: ['d'], embeddings: new Float32Array([9, 9, 9]) } });
    model.set('d', { vector: [9, 9, 9], metadata: null, document: null });
    // A delete-only batch, including an id Chroma never had.
    await tier.applyBatch(name, { deleteIds: ['e', 'never-there'], upserts: { ids: [], embeddings: new Float32Array(0) } });
    model.delete('e');
    assert.deepEqual(await contents(name, 3, 2), roundTripped(model));

    await tier.dropCollection(name);
  });

  it('scans in pages and splits batches larger than Chroma’s max batch size', async () => {
    const name = uniqueCollectionName();
    const dim = 4;
    const n = 6000; // Chroma's local max batch size is 5461
    await tier.createCollection(name, { dimension: dim, metric: 'ip' });
    const ids = Array.from({ length: n }, (_, i) => `id-${i}`);
    const embeddings = new Float32Array(n * dim).map((_, i) => Math.fround(Math.sin(i)));
    await tier.applyBatch(name, { deleteIds: ids, upserts: { ids, embeddings, metadatas: ids.map((_, i) => ({ i })) } });
    assert.equal(await tier.count(name), n);

    let pages = 0;
    const seen = new Set<string>();
    for await (const page of tier.scan(name, 1500)) {
      pages++;
      page.ids.forEach((id, r) => {
        const i = Number(id.slice(3));
        seen.add(id);
        assert.deepEqual(page.metadatas[r], { i });
        assert.deepEqual([...page.embeddings.subarray(r * dim, (r + 1) * dim)], [...embeddings.subarray(i * dim, (i + 1) * dim)]);
      });
    }
    assert.equal(seen.size, n);
    assert.equal(pages, 4);
    await tier.dropCollection(name);
  });

  it('lists only hotvec’s collections, with dimension, metric and count', async () => {
    const a = uniqueCollectionName('list');
    const b = uniqueCollectionName('list');
    await tier.createCollection(a, { dimension: 2, metric: 'cosine' });
    await tier.createCollection(b, { dimension: 5, metric: 'ip' });
    await tier.applyBatch(a, batchOf([['x', { vector: [1, 0], metadata: null, document: null }]]));
    // Not hotvec's: outside the prefix, or under it without hotvec's metadata.
    const client = new ChromaClient({ host: '127.0.0.1', port: chroma.port });
    const foreign = [`other_${uniqueCollectionName()}`, `hotvec_${uniqueCollectionName()}`];
    for (const name of foreign) await client.createCollection({ name, embeddingFunction: null, metadata: { owner: 'someone else' } });

    const listed = await tier.listCollections();
    const mine = listed.filter((c) => c.name === a || c.name === b).sort((x, y) => x.name.localeCompare(y.name));
    assert.deepEqual(mine, [
      { name: a, dimension: 2, metric: 'cosine', count: 1 },
      { name: b, dimension: 5, metric: 'ip', count: 0 },
    ].sort((x, y) => x.name.localeCompare(y.name)));
    for (const name of foreign) {
      assert.ok(!listed.some((c) => name.endsWith(c.name)), `${name} was listed`);
    }
    // A second tier with another prefix sees none of them.
    const other = new ChromaTier({ url: chroma.url, collectionPrefix: 'elsewhere_' });
    assert.deepEqual((await other.listCollections()).filter((c) => c.name === a || c.name === b), []);

    await tier.dropCollection(a);
    await tier.dropCollection(b);
    assert.ok(!(await tier.listCollections()).some((c) => c.name === a || c.name === b));
  });

  it('replaces a collection re-created with other parameters; drop is idempotent', async () => {
    const name = uniqueCollectionName();
    await tier.createCollection(name, { dimension: 2, metric: 'l2' });
    await tier.applyBatch(name, batchOf([['p', { vector: [1, 2], metadata: null, document: null }]]));
    await tier.createCollection(name, { dimension: 2, metric: 'l2' });
    assert.equal(await tier.count(name), 1, 'a replayed create must keep the records');

    await tier.createCollection(name, { dimension: 3, metric: 'cosine' });
    assert.equal(await tier.count(name), 0);
    assert.deepEqual((await tier.listCollections()).find((c) => c.name === name), { name, dimension: 3, metric: 'cosine', count: 0 });

    await tier.dropCollection(name);
    await tier.dropCollection(name);
    await assert.rejects(tier.count(name), (err: unknown) => err instanceof HotvecError && err.code === 'HOTVEC_CHROMA_UNAVAILABLE' && /no collection/.test(err.message));
  });

  it('finds a collection again after it was re-created behind its back', async () => {
    const name = uniqueCollectionName();
    await tier.createCollection(name, { dimension: 2, metric: 'l2' });
    await tier.applyBatch(name, batchOf([['p', { vector: [1, 2], metadata: null, document: null }]]));
    // Another tier (another engine life) drops and re-creates it: our cached id is stale now.
    const other = new ChromaTier({ url: chroma.url });
    await other.dropCollection(name);
    await other.createCollection(name, { dimension: 2, metric: 'l2' });
    await tier.applyBatch(name, batchOf([['q', { vector: [3, 4], metadata: null, document: null }]]));
    assert.deepEqual([...(await contents(name, 2)).keys()], ['q']);
    await tier.dropCollection(name);
  });

  it('reports an unreachable Chroma as CHROMA_UNAVAILABLE with the cause attached', async () => {
    const dead = new ChromaTier({ url: 'http://127.0.0.1:9' });
    for (const attempt of [
      () => dead.heartbeat(),
      () => dead.createCollection('x1', { dimension: 2, metric: 'l2' }),
      () => dead.applyBatch('x1', { deleteIds: ['a'], upserts: { ids: [], embeddings: new Float32Array(0) } }),
      () => dead.listCollections(),
    ]) {
      await assert.rejects(attempt(), (err: unknown) => {
        assert.ok(err instanceof HotvecError);
        assert.equal(err.code, 'HOTVEC_CHROMA_UNAVAILABLE');
        assert.match(err.message, /unreachable/);
        assert.ok(err.cause !== undefined);
        return true;
      });
    }
  });

  it('reports Chroma refusing a write as CHROMA_UNAVAILABLE with its message', async () => {
    const name = uniqueCollectionName();
    await tier.createCollection(name, { dimension: 2, metric: 'l2' });
    // A metadata value Chroma cannot store (a nested object).
    const bad = { ids: ['a'], embeddings: new Float32Array([1, 2]), metadatas: [{ nested: { x: 1 } } as unknown as Metadata] };
    await assert.rejects(tier.applyBatch(name, { deleteIds: ['a'], upserts: bad }), (err: unknown) => {
      assert.ok(err instanceof HotvecError);
      assert.equal(err.code, 'HOTVEC_CHROMA_UNAVAILABLE');
      assert.match(err.message, /HTTP 4\d\d/);
      return true;
    });
    await tier.dropCollection(name);
  });

  it('validates its options and collection names', async () => {
    const cases: [Partial<ConstructorParameters<typeof ChromaTier>[0]>, RegExp][] = [
      [{ url: 'not a url' }, /url must be an absolute/],
      [{ url: 'ftp://x:1' }, /url must use http or https/],
      [{ url: 'http://x:1/chroma' }, /url must have no path/],
      [{ url: 'http://x:1', collectionPrefix: '_bad' }, /collectionPrefix must be/],
      [{ url: 'http://x:1', collectionPrefix: '' }, /collectionPrefix must be/],
      [{ url: 'http://x:1', tenant: '' }, /tenant must be a non-empty string/],
    ];
    for (const [opts, message] of cases) {
      assert.throws(() => new ChromaTier(opts as ConstructorParameters<typeof ChromaTier>[0]), (err: unknown) => {
        assert.ok(err instanceof HotvecError);
        assert.equal(err.code, 'HOTVEC_INVALID_CONFIG');
        assert.match(err.message, message);
        return true;
      });
    }
    await assert.rejects(tier.createCollection('ends-with-dash-', { dimension: 2, metric: 'l2' }), /does not make a valid Chroma name/);
  });
});

/** What a record looks like after Chroma: vectors rounded to float32 (Maps compare unordered). */
function roundTripped(model: Map<string, Rec>): Map<string, Rec> {
  return new Map([...model].map(([id, r]) => [id, { ...r, vector: [...new Float32Array(r.vector)] }]));
}
