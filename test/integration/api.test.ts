/**
 * The HTTP API end to end against the real engine process and a real Chroma:
 * collections, upsert/query/get/delete/count in JSON and msgpack, exactness for every
 * metric against brute force, read-your-writes, overwrites and deletes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { useEngine } from '../helpers/engines.js';
import { call, callMsgpack, packr, randomVectors, rng } from '../helpers/hotvec.js';
import { bruteForce, sameNeighbours, type Metric } from '../helpers/reference.js';

const engine = useEngine();

describe('collections', () => {
  test('create, describe, list, count, drop', async () => {
    const created = await call(engine.hv.url, 'POST', '/v1/collections', { name: 'books', dimension: 4, metric: 'cosine' });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, { name: 'books', dimension: 4, metric: 'cosine', count: 0, index: { m: 16, efConstruction: 100, efSearch: 100, storage: 'f32' } });
    assert.equal((await call(engine.hv.url, 'POST', '/v1/collections', { name: 'books', dimension: 4 })).status, 409);
    assert.deepEqual((await call(engine.hv.url, 'GET', '/v1/collections/books')).body, { name: 'books', dimension: 4, metric: 'cosine', count: 0, index: { m: 16, efConstruction: 100, efSearch: 100, storage: 'f32' }, indexing: false, segments: [] });
    const list = await call<{ collections: { name: string }[] }>(engine.hv.url, 'GET', '/v1/collections');
    assert.ok(list.body.collections.some((c) => c.name === 'books'));
    const l2 = await call(engine.hv.url, 'POST', '/v1/collections', { name: 'defaults', dimension: 2 });
    assert.equal((l2.body as { metric: string }).metric, 'l2');
    assert.deepEqual((await call(engine.hv.url, 'GET', '/v1/collections/books/count')).body, { count: 0 });
    assert.equal((await call(engine.hv.url, 'DELETE', '/v1/collections/books')).status, 200);
    assert.equal((await call(engine.hv.url, 'GET', '/v1/collections/books')).status, 404);
    assert.equal((await call(engine.hv.url, 'GET', '/v1/collections/books/count')).status, 404);
  });
});

describe('records', () => {
  test('exact k-NN matches brute force for l2, cosine and ip, across chunk boundaries', async () => {
    const dim = 16;
    const n = 2500; // > 2 chunks of 1024 slots
    const vectors = randomVectors(n, dim, 42);
    const queries = randomVectors(12, dim, 43);
    for (const metric of ['l2', 'cosine', 'ip'] as Metric[]) {
      const name = `exact-${metric}`;
      assert.equal((await call(engine.hv.url, 'POST', '/v1/collections', { name, dimension: dim, metric })).status, 201);
      const ids = vectors.map((_, i) => `v${i}`);
      for (let i = 0; i < n; i += 1000) {
        const r = await call(engine.hv.url, 'POST', `/v1/collections/${name}/upsert`, { ids: ids.slice(i, i + 1000), embeddings: vectors.slice(i, i + 1000) });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      const data = new Map(ids.map((id, i) => [id, vectors[i]!]));
      // `exact: true` scans every segment, sealed or not (the collection may be sealed into a graph once idle).
      const res = await call<{ ids: string[][]; distances: number[][] }>(engine.hv.url, 'POST', `/v1/collections/${name}/query`, { embeddings: queries, k: 10, exact: true });
      assert.equal(res.status, 200);
      assert.equal(res.body.ids.length, queries.length);
      queries.forEach((q, i) => {
        const problem = sameNeighbours({ ids: res.body.ids[i]!, distances: res.body.distances[i]! }, bruteForce(metric, data, q, 10));
        assert.equal(problem, null, `${metric} query ${i}: ${problem}`);
      });
    }
  });

  test('read-your-writes: every acknowledged upsert, overwrite and delete is seen by the next query', async () => {
    const name = 'ryw';
    await call(engine.hv.url, 'POST', '/v1/collections', { name, dimension: 3 });
    const r = rng(5);
    for (let i = 0; i < 60; i++) {
      const v = [r(), r(), r()].map(Math.fround);
      const id = `id${i % 7}`; // overwrites too
      assert.equal((await call(engine.hv.url, 'POST', `/v1/collections/${name}/upsert`, { ids: [id], embeddings: [v] })).status, 200);
      const q = await call<{ ids: string[][]; distances: number[][] }>(engine.hv.url, 'POST', `/v1/collections/${name}/query`, { embeddings: [v], k: 1 });
      assert.deepEqual(q.body.ids, [[id]]);
      assert.equal(q.body.distances[0]![0], 0);
      if (i % 5 === 4) {
        assert.deepEqual((await call(engine.hv.url, 'POST', `/v1/collections/${name}/delete`, { ids: [id] })).body, { deleted: 1 });
        const after = await call<{ ids: string[][] }>(engine.hv.url, 'POST', `/v1/collections/${name}/query`, { embeddings: [v], k: 10 });
        assert.ok(!after.body.ids[0]!.includes(id), `deleted ${id} still returned`);
      }
    }
  });

  test('get returns existing ids with what include asks for; missing ids are absent', async () => {
    const name = 'getme';
    await call(engine.hv.url, 'POST', '/v1/collections', { name, dimension: 2 });
    await call(engine.hv.url, 'POST', `/v1/collections/${name}/upsert`, {
      ids: ['a', 'b', 'c'],
      embeddings: [[1, 0], [0, 1], [0.5, 0.25]],
      metadatas: [{ kind: 'x', n: 1, ok: true }, null, { kind: 'z' }],
      documents: ['doc a', 'doc b', null],
    });
    const g = await call(engine.hv.url, 'POST', `/v1/collections/${name}/get`, { ids: ['c', 'nope', 'a'], include: ['embeddings', 'metadatas', 'documents'] });
    assert.deepEqual(g.body, {
      ids: ['c', 'a'],
      embeddings: [[0.5, 0.25], [1, 0]],
      metadatas: [{ kind: 'z' }, { kind: 'x', n: 1, ok: true }],
      documents: [null, 'doc a'],
    });
    // Overwrite replaces the whole record: metadata and document go when not given again.
    await call(engine.hv.url, 'POST', `/v1/collections/${name}/upsert`, { ids: ['a'], embeddings: [[2, 2]] });
    const g2 = await call(engine.hv.url, 'POST', `/v1/collections/${name}/get`, { ids: ['a'] });
    assert.deepEqual(g2.body, { ids: ['a'], metadatas: [null], documents: [null] });
    const q = await call(engine.hv.url, 'POST', `/v1/collections/${name}/query`, { embeddings: [[0, 1]], k: 2, include: ['metadatas', 'documents', 'distances'] });
    assert.deepEqual(q.body, { ids: [['b', 'c']], distances: [[0, 0.8125]], metadatas: [[null, { kind: 'z' }]], documents: [['doc b', null]] });
    assert.deepEqual((await call(engine.hv.url, 'GET', `/v1/collections/${name}/count`)).body, { count: 3 });
  });

  test('msgpack: arrays or one float32 bin in, msgpack out, same shapes as JSON', async () => {
    const name = 'packed';
    const created = await callMsgpack(engine.hv.url, '/v1/collections', { name, dimension: 3, metric: 'l2' });
    assert.equal(created.status, 201);
    const f32 = new Float32Array([1, 2, 3, 4, 5, 6.5]);
    const up = await callMsgpack(engine.hv.url, `/v1/collections/${name}/upsert`, { ids: ['p', 'q'], embeddings: new Uint8Array(f32.buffer) });
    assert.deepEqual(up, { status: 200, body: { upserted: 2 } });
    const q = await callMsgpack<{ ids: string[][]; distances: number[][] }>(engine.hv.url, `/v1/collections/${name}/query`, {
      embeddings: new Uint8Array(new Float32Array([4, 5, 6.5]).buffer),
      k: 2,
    });
    assert.deepEqual(q.body.ids, [['q', 'p']]);
    assert.deepEqual(q.body.distances, [[0, 9 + 9 + 12.25]]);
    const q2 = await callMsgpack<{ ids: string[][] }>(engine.hv.url, `/v1/collections/${name}/query`, { embeddings: [[1, 2, 3]], k: 1 });
    assert.deepEqual(q2.body.ids, [['p']]);
    const g = await callMsgpack(engine.hv.url, `/v1/collections/${name}/get`, { ids: ['q'], include: ['embeddings'] });
    assert.deepEqual(g.body, { ids: ['q'], embeddings: [[4, 5, 6.5]] });
    const bad = await callMsgpack<{ error: { code: string } }>(engine.hv.url, `/v1/collections/${name}/upsert`, { ids: ['r'], embeddings: new Uint8Array(8) });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'HOTVEC_DIMENSION_MISMATCH');
  });

  test('distances are the ones Chroma reports for the same data', async () => {
    const { ChromaClient } = await import('chromadb');
    const u = new URL(engine.chroma.url);
    const client = new ChromaClient({ host: u.hostname, port: Number(u.port) });
    const dim = 8;
    const vectors = randomVectors(40, dim, 9);
    const q = randomVectors(1, dim, 10)[0]!;
    for (const metric of ['l2', 'cosine', 'ip'] as Metric[]) {
      const name = `parity-${metric}`;
      await call(engine.hv.url, 'POST', '/v1/collections', { name, dimension: dim, metric });
      const ids = vectors.map((_, i) => `p${i}`);
      await call(engine.hv.url, 'POST', `/v1/collections/${name}/upsert`, { ids, embeddings: vectors });
      const ours = await call<{ ids: string[][]; distances: number[][] }>(engine.hv.url, 'POST', `/v1/collections/${name}/query`, { embeddings: [q], k: 5 });
      const col = await client.getOrCreateCollection({ name: `parity_ref_${metric}`, embeddingFunction: null, configuration: { hnsw: { space: metric } } });
      await col.add({ ids, embeddings: vectors });
      const theirs = await col.query({ queryEmbeddings: [q], nResults: 5, include: ['distances' as never] });
      assert.deepEqual(ours.body.ids[0], theirs.ids[0], `${metric}: same neighbours as Chroma`);
      ours.body.distances[0]!.forEach((d, i) => assert.ok(Math.abs(d - (theirs.distances[0]![i] as number)) < 1e-4, `${metric} distance ${i}: ${d} vs ${theirs.distances[0]![i]}`));
      await client.deleteCollection({ name: `parity_ref_${metric}` });
    }
  });
});

describe('request bodies', () => {
  /** POSTs `body` with node:http in `pieces` writes a moment apart; with `length`, a Content-Length, else chunked transfer encoding. */
  async function post(path: string, body: Uint8Array, contentType: string, pieces: number, length: boolean): Promise<{ status: number; body: unknown }> {
    const { request } = await import('node:http');
    const url = new URL(path, engine.hv.url);
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'content-type': contentType, accept: 'application/json' };
      if (length) headers['content-length'] = body.byteLength;
      const req = request(url, { method: 'POST', headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown }));
      });
      req.on('error', reject);
      // A pause between pieces, so that the server reads them one by one instead of all at once.
      const step = Math.ceil(body.byteLength / pieces);
      void (async () => {
        for (let at = 0; at < body.byteLength; at += step) {
          req.write(body.subarray(at, at + step));
          await new Promise((r) => setTimeout(r, 2));
        }
        req.end();
      })();
    });
  }

  test('a body in many chunks, with a Content-Length or chunked, arrives whole (msgpack and JSON)', async () => {
    await call(engine.hv.url, 'POST', '/v1/collections', { name: 'bodies', dimension: 64 });
    const vectors = randomVectors(600, 64, 91);
    const ids = vectors.map((_, i) => `b${i}`);
    const f32 = Float32Array.from(vectors.flat());
    const msgpack = packr.pack({ ids: ids.slice(0, 300), embeddings: new Uint8Array(f32.buffer, 0, 300 * 64 * 4) });
    const json = new TextEncoder().encode(JSON.stringify({ ids: ids.slice(300), embeddings: vectors.slice(300) }));
    assert.deepEqual(await post('/v1/collections/bodies/upsert', msgpack, 'application/msgpack', 37, true), { status: 200, body: { upserted: 300 } });
    assert.deepEqual(await post('/v1/collections/bodies/upsert', json, 'application/json', 53, false), { status: 200, body: { upserted: 300 } });
    const got = await call<{ ids: string[]; embeddings: number[][] }>(engine.hv.url, 'POST', '/v1/collections/bodies/get', { ids: ['b0', 'b299', 'b300', 'b599'], include: ['embeddings'] });
    assert.deepEqual(got.body.ids, ['b0', 'b299', 'b300', 'b599']);
    assert.deepEqual(got.body.embeddings, [vectors[0], vectors[299], vectors[300], vectors[599]]);
    // A query body both ways gives the same answer.
    const query = new TextEncoder().encode(JSON.stringify({ embeddings: [vectors[42]], k: 3 }));
    const a = await post('/v1/collections/bodies/query', query, 'application/json', 7, true);
    const b = await post('/v1/collections/bodies/query', query, 'application/json', 7, false);
    assert.equal(a.status, 200);
    assert.deepEqual(a, b);
    assert.equal((a.body as { ids: string[][] }).ids[0]![0], 'b42');
  });

  test('JSON bodies read at the same time, in pieces, each get their own answer (reused body buffers)', async () => {
    await call(engine.hv.url, 'POST', '/v1/collections', { name: 'bodies2', dimension: 64 });
    const vectors = randomVectors(200, 64, 92);
    await call(engine.hv.url, 'POST', '/v1/collections/bodies2/upsert', { ids: vectors.map((_, i) => `c${i}`), embeddings: vectors });
    // Eight queries whose bodies stream in interleaved: were two of them read into one buffer,
    // one would be answered for the other's vector or fail to parse. Then again, to reuse them.
    for (let round = 0; round < 2; round++) {
      const picks = Array.from({ length: 8 }, (_, i) => 17 * i + round);
      const answers = await Promise.all(
        picks.map((p) => post('/v1/collections/bodies2/query', new TextEncoder().encode(JSON.stringify({ embeddings: [vectors[p]], k: 1 })), 'application/json', 5, true)),
      );
      assert.deepEqual(
        answers.map((a) => [a.status, (a.body as { ids: string[][] }).ids[0]![0]]),
        picks.map((p) => [200, `c${p}`]),
      );
    }
  });
});
