/**
 * Hydration's filter of records whose ids the store cannot keep (recovery.ts `storablePart`):
 * the records around a left-out one keep their own vector, metadata and document.
 * (test/integration/durability.test.ts runs the whole start over a real Chroma.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { storablePart } from '../../src/persist/recovery.js';

test('records around left-out ids keep their own vector, metadata and document', () => {
  const ids = ['a', 'x'.repeat(3073), 'b', '', 'c'];
  const page = {
    ids,
    embeddings: Float32Array.from(ids.flatMap((_, i) => [i, i + 0.5])),
    metadatas: ids.map((_, i) => ({ i })),
    documents: ids.map((_, i) => `doc ${i}`),
  };
  const { page: kept, skipped } = storablePart(page, 2);
  assert.deepEqual(skipped, ['x'.repeat(3073), '']);
  assert.deepEqual(kept.ids, ['a', 'b', 'c']);
  assert.deepEqual(Array.from(kept.embeddings), [0, 0.5, 2, 2.5, 4, 4.5]);
  assert.deepEqual(kept.metadatas, [{ i: 0 }, { i: 2 }, { i: 4 }]);
  assert.deepEqual(kept.documents, ['doc 0', 'doc 2', 'doc 4']);
  const whole = { ids: ['a'], embeddings: new Float32Array(2), metadatas: [null], documents: [null] };
  assert.equal(storablePart(whole, 2).page, whole, 'a page with nothing to leave out is passed as it is');
});
