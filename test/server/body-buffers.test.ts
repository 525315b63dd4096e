/**
 * Reused body buffers: a buffer comes back only from `take`, only once, and is handed out again;
 * buffers lent at the same time are distinct; large bodies are not pooled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyBuffers, POOLED_BODY_BYTES } from '../../src/server/body-buffers.js';

test('a given-back buffer is lent again; buffers out at once are distinct', () => {
  const pool = new BodyBuffers();
  const a = pool.take(100)!;
  const b = pool.take(200)!;
  assert.equal(a.byteLength, 100);
  assert.equal(b.byteLength, 200);
  assert.notEqual(a.buffer, b.buffer);
  pool.give(a);
  assert.equal(pool.idle, 1);
  const c = pool.take(300)!;
  assert.equal(c.buffer, a.buffer);
  assert.equal(c.byteLength, 300);
  assert.equal(pool.idle, 0);
});

test('give ignores foreign buffers and a second give of the same one', () => {
  const pool = new BodyBuffers();
  pool.give(new Uint8Array(POOLED_BODY_BYTES));
  pool.give(Buffer.allocUnsafe(10));
  assert.equal(pool.idle, 0);
  const a = pool.take(10)!;
  pool.give(a.subarray(0, 5));
  pool.give(a);
  assert.equal(pool.idle, 1, 'given back once');
  // Were it in the free list twice, two requests would read their bodies into one buffer.
  const x = pool.take(10)!;
  const y = pool.take(10)!;
  assert.notEqual(x.buffer, y.buffer);
});

test('bodies over the pooled size are not pooled', () => {
  const pool = new BodyBuffers();
  assert.equal(pool.take(POOLED_BODY_BYTES + 1), undefined);
  assert.equal(pool.take(POOLED_BODY_BYTES)!.byteLength, POOLED_BODY_BYTES);
});
