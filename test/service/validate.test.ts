import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collectionName, embeddings, ids, include, metadata, perRecord, QUERY_INCLUDE, requestObject } from '../../src/service/validate.js';

test('collection names: 1-128 of the allowed characters, ending alphanumeric', () => {
  for (const ok of ['a', 'A-b_c.d9', 'x'.repeat(128)]) assert.equal(collectionName(ok), ok);
  for (const bad of ['', 'a/b', '..', 'a.', 'a-', 'x'.repeat(129), 'é', 7, null]) {
    assert.throws(() => collectionName(bad), /HOTVEC_INVALID_ARGUMENT|name/);
  }
});

test('embeddings: arrays and float32 bytes, with messages that say what was expected', () => {
  const f = embeddings([[1, 2, 3], [4, 5, 6]], 'embeddings', 3, 10);
  assert.deepEqual(Array.from(f), [1, 2, 3, 4, 5, 6]);
  const bytes = new Uint8Array(new Float32Array([1.5, -2, 3]).buffer);
  assert.deepEqual(Array.from(embeddings(bytes, 'embeddings', 3, 10)), [1.5, -2, 3]);
  assert.throws(() => embeddings([[1, 2]], 'embeddings', 3, 10), { code: 'HOTVEC_DIMENSION_MISMATCH', message: /expected 3 numbers, got 2/ });
  assert.throws(() => embeddings(bytes.subarray(0, 8), 'embeddings', 3, 10), { code: 'HOTVEC_DIMENSION_MISMATCH' });
  assert.throws(() => embeddings([[1, NaN, 3]], 'embeddings', 3, 10), /finite/);
  assert.throws(() => embeddings([[1, '2', 3]], 'embeddings', 3, 10), /finite number/);
  assert.throws(() => embeddings([[1, 1e39, 3]], 'embeddings', 3, 10), /overflows float32/);
  assert.throws(() => embeddings(new Uint8Array(new Float32Array([1, Infinity, 3]).buffer), 'embeddings', 3, 10), /non-finite/);
  assert.throws(() => embeddings([], 'embeddings', 3, 10), /at least one/);
  assert.throws(() => embeddings([[1, 2, 3], [1, 2, 3]], 'embeddings', 3, 1), /at most 1/);
  assert.throws(() => embeddings('x', 'embeddings', 3, 10), /array of number arrays/);
});

test('ids: non-empty strings, unique within an upsert batch', () => {
  assert.deepEqual(ids(['a', 'b'], 'ids', 10, true), ['a', 'b']);
  assert.throws(() => ids(['a', 'a'], 'ids', 10, true), { code: 'HOTVEC_DUPLICATE_ID' });
  assert.deepEqual(ids(['a', 'a'], 'ids', 10, false), ['a', 'a']);
  assert.throws(() => ids([''], 'ids', 10, true), /ids\[0\]/);
  assert.throws(() => ids([1], 'ids', 10, true), /ids\[0\]/);
  assert.throws(() => ids('a', 'ids', 10, true), /array of strings/);
});

test('metadata is flat; per-record arrays match the ids', () => {
  assert.deepEqual(metadata({ a: 1, b: 'x', c: true }, 'm'), { a: 1, b: 'x', c: true });
  assert.equal(metadata({}, 'm'), null);
  assert.throws(() => metadata({ a: { b: 1 } }, 'm'), /m\.a/);
  assert.throws(() => metadata({ a: [1] }, 'm'), /m\.a/);
  assert.throws(() => metadata({ a: NaN }, 'm'), /m\.a/);
  assert.throws(() => metadata({ '#x': 1 }, 'm'), /reserved by Chroma/);
  assert.throws(() => metadata({ 'chroma:document': 'x' }, 'm'), /reserved by Chroma/);
  assert.equal(perRecord(undefined, 'metadatas', 2, metadata), undefined);
  assert.equal(perRecord([null, null], 'metadatas', 2, metadata), undefined);
  assert.throws(() => perRecord([{}], 'metadatas', 2, metadata), /1 entries for 2 ids/);
});

test('include: only known fields', () => {
  assert.deepEqual([...include(undefined, QUERY_INCLUDE, ['distances'])], ['distances']);
  assert.throws(() => include(['distances', 'vectors'], QUERY_INCLUDE, []), /"vectors"/);
});

test('requestObject: only the named fields, own keys only, "__proto__" from JSON is a field like any other', () => {
  const fields = ['ids', 'include'];
  const body = { ids: ['a'] };
  assert.equal(requestObject(body, 'get', fields), body);
  assert.deepEqual(requestObject({}, 'count', []), {});
  assert.equal(requestObject(Object.create({ inherited: 1 }) as object, 'count', []).inherited, 1, 'an inherited key is not a field of the body');
  assert.throws(() => requestObject(JSON.parse('{"ids": [], "__proto__": {"x": 1}}'), 'get', fields), /unknown field "__proto__" in get; get takes "ids", "include"/);
  assert.throws(() => requestObject({ ids: [], limit: 1 }, 'get', fields), /HOTVEC_INVALID_ARGUMENT|unknown field "limit"/);
  assert.throws(() => requestObject({ where: {} }, 'get', fields), /"where" in get \(hotvec does not filter by metadata\)/);
  assert.throws(() => requestObject({ ["x".repeat(300)]: 1 }, 'count', []), (err: Error) => err.message.length < 200);
  for (const bad of [null, [], 'x', 3, new Uint8Array(2)]) assert.throws(() => requestObject(bad, 'get', fields), /JSON or msgpack object/);
});
