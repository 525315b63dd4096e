/**
 * Bad input gets `{error: {code, message}}` with the right status, never a crash, and never
 * touches acknowledged data.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { useEngine } from '../helpers/engines.js';
import { call } from '../helpers/hotvec.js';

const engine = useEngine({
  args: ['--max-body-bytes', '4096', '--max-k', '50', '--max-batch', '100'],
  setup: async (hv) => {
    await call(hv.url, 'POST', '/v1/collections', { name: 'c', dimension: 3 });
    await call(hv.url, 'POST', '/v1/collections/c/upsert', { ids: ['keep'], embeddings: [[1, 2, 3]], metadatas: [{ a: 1 }] });
  },
});

type Case = [label: string, method: string, path: string, body: unknown, status: number, code: string, message?: RegExp];

const cases: Case[] = [
  ['wrong dimension', 'POST', '/v1/collections/c/upsert', { ids: ['x'], embeddings: [[1, 2]] }, 400, 'HOTVEC_DIMENSION_MISMATCH', /expected 3 numbers, got 2/],
  ['NaN is not JSON; a string is not a number', 'POST', '/v1/collections/c/upsert', { ids: ['x'], embeddings: [[1, '2', 3]] }, 400, 'HOTVEC_INVALID_ARGUMENT', /embeddings\[0\]\[1\]/],
  ['null in a vector', 'POST', '/v1/collections/c/query', { embeddings: [[1, null, 3]] }, 400, 'HOTVEC_INVALID_ARGUMENT'],
  ['missing ids', 'POST', '/v1/collections/c/upsert', { embeddings: [[1, 2, 3]] }, 400, 'HOTVEC_INVALID_ARGUMENT', /"ids"/],
  ['ids not strings', 'POST', '/v1/collections/c/upsert', { ids: [1], embeddings: [[1, 2, 3]] }, 400, 'HOTVEC_INVALID_ARGUMENT', /ids\[0\]/],
  ['empty id', 'POST', '/v1/collections/c/upsert', { ids: [''], embeddings: [[1, 2, 3]] }, 400, 'HOTVEC_INVALID_ARGUMENT'],
  ['an id with a lone surrogate (no UTF-8 for it)', 'POST', '/v1/collections/c/upsert', { ids: ['ok', 'bad\ud800'], embeddings: [[1, 2, 3], [1, 2, 3]] }, 400, 'HOTVEC_INVALID_ARGUMENT', /"ids\[1\]" holds a lone UTF-16 surrogate/],
  ['ids/embeddings count mismatch', 'POST', '/v1/collections/c/upsert', { ids: ['a', 'b'], embeddings: [[1, 2, 3]] }, 400, 'HOTVEC_INVALID_ARGUMENT', /1 vectors for 2 ids/],
  ['duplicate ids in one batch', 'POST', '/v1/collections/c/upsert', { ids: ['a', 'a'], embeddings: [[1, 2, 3], [1, 2, 3]] }, 400, 'HOTVEC_DUPLICATE_ID'],
  ['nested metadata', 'POST', '/v1/collections/c/upsert', { ids: ['a'], embeddings: [[1, 2, 3]], metadatas: [{ a: { b: 1 } }] }, 400, 'HOTVEC_INVALID_ARGUMENT', /metadatas\[0\]\.a/],
  ['document not a string', 'POST', '/v1/collections/c/upsert', { ids: ['a'], embeddings: [[1, 2, 3]], documents: [5] }, 400, 'HOTVEC_INVALID_ARGUMENT'],
  ['k = 0', 'POST', '/v1/collections/c/query', { embeddings: [[1, 2, 3]], k: 0 }, 400, 'HOTVEC_INVALID_ARGUMENT', /"k"/],
  ['k over maxK', 'POST', '/v1/collections/c/query', { embeddings: [[1, 2, 3]], k: 51 }, 400, 'HOTVEC_INVALID_ARGUMENT', /1 to 50/],
  ['k not an integer', 'POST', '/v1/collections/c/query', { embeddings: [[1, 2, 3]], k: 2.5 }, 400, 'HOTVEC_INVALID_ARGUMENT'],
  ['unknown include', 'POST', '/v1/collections/c/query', { embeddings: [[1, 2, 3]], include: ['vectors'] }, 400, 'HOTVEC_INVALID_ARGUMENT', /include/],
  ['batch over maxBatch', 'POST', '/v1/collections/c/query', { embeddings: Array.from({ length: 101 }, () => [1, 2, 3]) }, 400, 'HOTVEC_INVALID_ARGUMENT', /at most 100/],
  ['body is an array', 'POST', '/v1/collections/c/query', [1, 2], 400, 'HOTVEC_MALFORMED_BODY'],
  ['bad collection name', 'POST', '/v1/collections', { name: 'a/b', dimension: 3 }, 400, 'HOTVEC_INVALID_ARGUMENT', /name/],
  ['dimension not a number', 'POST', '/v1/collections', { name: 'd', dimension: 'x' }, 400, 'HOTVEC_INVALID_ARGUMENT', /dimension/],
  ['unknown metric', 'POST', '/v1/collections', { name: 'd', dimension: 3, metric: 'hamming' }, 400, 'HOTVEC_INVALID_ARGUMENT', /metric/],
  ['i8 graphs for ip', 'POST', '/v1/collections', { name: 'd', dimension: 3, metric: 'ip', index: { storage: 'i8' } }, 400, 'HOTVEC_INVALID_ARGUMENT', /i8 is for metrics l2 and cosine/],
  ["Chroma's query_embeddings / n_results", 'POST', '/v1/collections/c/query', { query_embeddings: [[1, 2, 3]], n_results: 2 }, 400, 'HOTVEC_INVALID_ARGUMENT', /unknown field "query_embeddings" in query \(Chroma's "query_embeddings" is "embeddings" in hotvec\)/],
  ['a misspelt exact is not ignored', 'POST', '/v1/collections/c/query', { embeddings: [[1, 2, 3]], exacct: true }, 400, 'HOTVEC_INVALID_ARGUMENT', /unknown field "exacct" in query; query takes "embeddings", "k", "include", "ef", "exact"/],
  ['a where filter', 'POST', '/v1/collections/c/query', { embeddings: [[1, 2, 3]], where: { a: 1 } }, 400, 'HOTVEC_INVALID_ARGUMENT', /"where" in query \(hotvec does not filter by metadata\)/],
  ['an unknown upsert field', 'POST', '/v1/collections/c/upsert', { ids: ['z'], embeddings: [[1, 2, 3]], metadata: [{ a: 1 }] }, 400, 'HOTVEC_INVALID_ARGUMENT', /unknown field "metadata" in upsert/],
  ['an unknown get field', 'POST', '/v1/collections/c/get', { ids: ['keep'], limit: 5 }, 400, 'HOTVEC_INVALID_ARGUMENT', /unknown field "limit" in get/],
  ['an unknown delete field', 'POST', '/v1/collections/c/delete', { ids: ['keep'], where: {} }, 400, 'HOTVEC_INVALID_ARGUMENT', /unknown field "where" in delete/],
  ['a misspelt metric is not ignored', 'POST', '/v1/collections', { name: 'd', dimension: 3, metrc: 'cosine' }, 400, 'HOTVEC_INVALID_ARGUMENT', /metrc/],
  ['unknown collection', 'POST', '/v1/collections/nope/query', { embeddings: [[1, 2, 3]] }, 404, 'HOTVEC_COLLECTION_NOT_FOUND'],
  ['unknown route', 'GET', '/v2/whatever', undefined, 404, 'HOTVEC_ROUTE_NOT_FOUND'],
  ['wrong method', 'PUT', '/v1/collections/c/query', undefined, 405, 'HOTVEC_METHOD_NOT_ALLOWED'],
  ['exists', 'POST', '/v1/collections', { name: 'c', dimension: 3 }, 409, 'HOTVEC_COLLECTION_EXISTS'],
];

for (const [label, method, path, body, status, code, message] of cases) {
  test(`${label} → ${status} ${code}`, async () => {
    const r = await call<{ error: { code: string; message: string } }>(engine.hv.url, method, path, body);
    assert.equal(r.status, status, JSON.stringify(r.body));
    assert.equal(r.body.error.code, code);
    assert.equal(typeof r.body.error.message, 'string');
    if (message) assert.match(r.body.error.message, message);
  });
}

test('malformed JSON → 400 MALFORMED_BODY', async () => {
  const r = await fetch(`${engine.hv.url}/v1/collections/c/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"embeddings": [[1,2' });
  assert.equal(r.status, 400);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'HOTVEC_MALFORMED_BODY');
});

test('NaN literal in JSON → 400', async () => {
  const r = await fetch(`${engine.hv.url}/v1/collections/c/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"embeddings": [[1,NaN,3]]}' });
  assert.equal(r.status, 400);
});

test('body over maxBodyBytes → 413', async () => {
  const big = JSON.stringify({ ids: ['x'], embeddings: [[1, 2, 3]], documents: ['y'.repeat(10_000)] });
  const r = await fetch(`${engine.hv.url}/v1/collections/c/upsert`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
  assert.equal(r.status, 413);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'HOTVEC_PAYLOAD_TOO_LARGE');
});

test('unsupported content type → 415', async () => {
  const r = await fetch(`${engine.hv.url}/v1/collections/c/query`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
  assert.equal(r.status, 415);
  assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'HOTVEC_UNSUPPORTED_MEDIA_TYPE');
});

test('after all of that the acknowledged record is intact and nothing else was written', async () => {
  const g = await call(engine.hv.url, 'POST', '/v1/collections/c/get', { ids: ['keep', 'x', 'a', 'b'], include: ['embeddings', 'metadatas'] });
  assert.deepEqual(g.body, { ids: ['keep'], embeddings: [[1, 2, 3]], metadatas: [{ a: 1 }] });
  assert.deepEqual((await call(engine.hv.url, 'GET', '/v1/collections/c/count')).body, { count: 1 });
  assert.equal((await fetch(`${engine.hv.url}/health`)).status, 200);
});
