import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Packr } from 'msgpackr';
import { decode, encode, encodingOfAccept, encodingOfContentType } from '../../src/server/codec.js';

test('content negotiation', () => {
  assert.equal(encodingOfContentType(''), 'json');
  assert.equal(encodingOfContentType('application/json; charset=utf-8'), 'json');
  assert.equal(encodingOfContentType('application/msgpack'), 'msgpack');
  assert.throws(() => encodingOfContentType('text/plain'), { code: 'HOTVEC_UNSUPPORTED_MEDIA_TYPE' });
  assert.equal(encodingOfAccept('', 'msgpack'), 'msgpack');
  assert.equal(encodingOfAccept('*/*', 'json'), 'json');
  assert.equal(encodingOfAccept('application/msgpack', 'json'), 'msgpack');
  assert.throws(() => encodingOfAccept('text/html', 'json'), { code: 'HOTVEC_UNSUPPORTED_MEDIA_TYPE' });
});

test('typed arrays leave as plain number arrays in both encodings', () => {
  const value = { ids: [['a']], embeddings: [[new Float32Array([1.5, 2])]] };
  assert.deepEqual(JSON.parse(encode(value, 'json') as string), { ids: [['a']], embeddings: [[[1.5, 2]]] });
  const p = new Packr({ useRecords: false });
  assert.deepEqual(p.unpack(encode(value, 'msgpack') as Uint8Array), { ids: [['a']], embeddings: [[[1.5, 2]]] });
});

test('malformed bodies are MALFORMED_BODY, empty bodies are {}', () => {
  assert.throws(() => decode(Buffer.from('{nope'), 'json'), { code: 'HOTVEC_MALFORMED_BODY' });
  assert.throws(() => decode(Buffer.from([0x92, 0x01]), 'msgpack'), { code: 'HOTVEC_MALFORMED_BODY' });
  assert.deepEqual(decode(new Uint8Array(0), 'json'), {});
});
