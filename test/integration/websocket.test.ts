/** The WebSocket protocol: many requests in flight per socket, JSON text and msgpack binary frames. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { useEngine } from '../helpers/engines.js';
import { call, packr, randomVectors } from '../helpers/hotvec.js';

const engine = useEngine();

interface Answer {
  id: unknown;
  result?: Record<string, unknown>;
  error?: { code: string; message: string };
}

async function connect(): Promise<{ ws: WebSocket; answers: Map<unknown, Answer>; waitFor: (n: number) => Promise<void> }> {
  const ws = new WebSocket(`${engine.hv.url.replace('http', 'ws')}/v1/ws`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const answers = new Map<unknown, Answer>();
  let waiter: (() => void) | null = null;
  let want = 0;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const a = (isBinary ? packr.unpack(data) : JSON.parse(data.toString())) as Answer;
    answers.set(a.id, a);
    if (waiter && answers.size >= want) waiter();
  });
  const waitFor = (n: number): Promise<void> =>
    new Promise((resolve) => {
      want = n;
      if (answers.size >= n) resolve();
      else waiter = resolve;
    });
  return { ws, answers, waitFor };
}

test('many requests in flight on one socket are each answered under their id (JSON text frames)', async () => {
  const { ws, answers, waitFor } = await connect();
  const dim = 8;
  ws.send(JSON.stringify({ id: 'create', op: 'create_collection', name: 'wsc', dimension: dim }));
  await waitFor(1);
  assert.deepEqual(answers.get('create')?.result, { name: 'wsc', dimension: dim, metric: 'l2', count: 0, index: { m: 16, efConstruction: 100, efSearch: 100, storage: 'f32' } });
  const vectors = randomVectors(200, dim, 3);
  // 20 upserts and 20 queries sent back to back, without waiting.
  for (let i = 0; i < 20; i++) {
    ws.send(JSON.stringify({ id: `u${i}`, op: 'upsert', collection: 'wsc', ids: Array.from({ length: 10 }, (_, j) => `r${i * 10 + j}`), embeddings: vectors.slice(i * 10, i * 10 + 10) }));
  }
  for (let i = 0; i < 20; i++) ws.send(JSON.stringify({ id: i, op: 'query', collection: 'wsc', embeddings: [vectors[i]], k: 3 }));
  ws.send(JSON.stringify({ id: 'bad', op: 'query', collection: 'wsc', embeddings: [[1]] }));
  ws.send(JSON.stringify({ id: 'nop', op: 'frobnicate' }));
  await waitFor(43);
  for (let i = 0; i < 20; i++) assert.deepEqual(answers.get(`u${i}`)?.result, { upserted: 10 });
  for (let i = 0; i < 20; i++) {
    const res = answers.get(i)?.result as { ids: string[][] };
    assert.equal(res.ids.length, 1, `query ${i}`);
  }
  assert.equal(answers.get('bad')?.error?.code, 'HOTVEC_DIMENSION_MISMATCH');
  assert.equal(answers.get('nop')?.error?.code, 'HOTVEC_INVALID_ARGUMENT');
  ws.close();
});

test('msgpack binary frames with a float32 bin; answers come back as msgpack', async () => {
  const { ws, answers, waitFor } = await connect();
  await call(engine.hv.url, 'POST', '/v1/collections', { name: 'wsb', dimension: 2 });
  ws.send(packr.pack({ id: 1, op: 'upsert', collection: 'wsb', ids: ['a', 'b'], embeddings: new Uint8Array(new Float32Array([0, 0, 3, 4]).buffer) }));
  await waitFor(1);
  assert.deepEqual(answers.get(1)?.result, { upserted: 2 });
  ws.send(packr.pack({ id: 2, op: 'query', collection: 'wsb', embeddings: new Uint8Array(new Float32Array([3, 4]).buffer), k: 2, include: ['distances'] }));
  ws.send(packr.pack({ id: 3, op: 'count', collection: 'wsb' }));
  ws.send(packr.pack({ id: 4, op: 'get', collection: 'wsb', ids: ['a'], include: ['embeddings'] }));
  await waitFor(4);
  assert.deepEqual(answers.get(2)?.result, { ids: [['b', 'a']], distances: [[0, 25]] });
  assert.deepEqual(answers.get(3)?.result, { count: 2 });
  assert.deepEqual(answers.get(4)?.result, { ids: ['a'], embeddings: [[0, 0]] });
  ws.close();
});

test('a WebSocket answer has the same shape as the HTTP body', async () => {
  const { ws, answers, waitFor } = await connect();
  ws.send(JSON.stringify({ id: 'q', op: 'query', collection: 'wsb', embeddings: [[3, 4]], k: 1, include: ['distances', 'embeddings'] }));
  await waitFor(1);
  const http = await call(engine.hv.url, 'POST', '/v1/collections/wsb/query', { embeddings: [[3, 4]], k: 1, include: ['distances', 'embeddings'] });
  assert.deepEqual(answers.get('q')?.result, http.body);
  ws.close();
});

test('unknown fields are refused over WebSocket as over HTTP, msgpack too; id, op and collection are not fields', async () => {
  const { ws, answers, waitFor } = await connect();
  await call(engine.hv.url, 'POST', '/v1/collections', { name: 'wsf', dimension: 2 });
  ws.send(packr.pack({ id: 1, op: 'query', collection: 'wsf', query_embeddings: new Uint8Array(new Float32Array([3, 4]).buffer), n_results: 1 }));
  ws.send(JSON.stringify({ id: 2, op: 'count', collection: 'wsf', where: { a: 1 } }));
  ws.send(JSON.stringify({ id: 3, op: 'create_collection', name: 'wsf2', collection: 'other', dimension: 2 }));
  ws.send(JSON.stringify({ id: 4, op: 'create_collection', collection: 'wsf3', dimension: 2, metadata: { 'hnsw:space': 'cosine' } }));
  ws.send(JSON.stringify({ id: 5, op: 'count', collection: 'wsf' }));
  ws.send(JSON.stringify({ id: 6, op: 'create_collection', name: 'wsf4', collection: 'wsf4', dimension: 2 }));
  await waitFor(6);
  const error = (id: number) => answers.get(id)?.error;
  assert.equal(error(1)?.code, 'HOTVEC_INVALID_ARGUMENT');
  assert.match(error(1)!.message, /unknown field "query_embeddings" in query \(Chroma's "query_embeddings" is "embeddings" in hotvec\)/);
  assert.match(error(2)!.message, /unknown field "where" in count; count takes no fields/);
  assert.match(error(3)!.message, /"name" \("wsf2"\) and "collection" \("other"\) differ/);
  assert.match(error(4)!.message, /unknown field "metadata" in create_collection \(Chroma's "hnsw:space" and other "hnsw:\*" settings are "metric" and "index" in hotvec\)/);
  assert.deepEqual(answers.get(5)?.result, { count: 0 });
  assert.equal(answers.get(6)?.result?.name, 'wsf4', 'the same name twice is fine');
  const listed = (await call<{ collections: { name: string }[] }>(engine.hv.url, 'GET', '/v1/collections')).body.collections.map((c) => c.name);
  assert.ok(!listed.includes('wsf2') && !listed.includes('other') && !listed.includes('wsf3'), 'no refused create made a collection');
  ws.close();
});
