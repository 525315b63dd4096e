/**
 * The graph builder's close(): a builder stopped right after a build was handed to it (what an
 * engine stopped just after it began to seal a segment does) waits until the thread that build
 * started has loaded its module, then stops it. An error of its pool outside any build is
 * handed to the owner.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GraphBuilder } from '../../src/graph/builder.js';
import { DEFAULT_INDEX_SETTINGS } from '../../src/vector-index/settings.js';
import { VectorIndex } from '../../src/vector-index/vector-index.js';
import { removeDir, tempDir } from '../helpers/hotvec.js';

let dir: string;
before(async () => {
  dir = await tempDir();
});
after(() => removeDir(dir));

test('a builder closed right after a build was dispatched waits until its thread has loaded its module, then stops it', async () => {
  const index = new VectorIndex({ maxBytes: 64 * 1024 * 1024, maxDimension: 8, scratchSlots: 1 });
  const builder = new GraphBuilder(index.arena.memory);
  // An empty graph: the job itself does not matter, only that it starts the builder thread.
  const built = builder.build({ dimension: 8, metric: 'l2', settings: { ...DEFAULT_INDEX_SETTINGS }, vectorOffsets: new Float64Array(0), keys: new Float64Array(0), path: join(dir, 'empty.usearch'), threads: 1 });
  const settled = built.then(() => 'built', () => 'abandoned'); // close() may stop the build: either is fine
  assert.equal(builder.threads, 1, 'the build started a thread');
  assert.equal(builder.loadedWorkers, 0, 'still loading in the same turn');
  await builder.close();
  assert.equal(builder.loadedWorkers, 1, 'the thread had loaded before close() stopped it');
  assert.equal(builder.threads, 0, 'and it is gone');
  assert.equal(builder.close(), builder.close(), 'close() is idempotent: the same promise');
  await settled;
});

test("an error of the builder's pool outside any build reaches onWorkerError instead of throwing on the main thread", async () => {
  const index = new VectorIndex({ maxBytes: 64 * 1024 * 1024, maxDimension: 8, scratchSlots: 1 });
  const seen: Error[] = [];
  const builder = new GraphBuilder(index.arena.memory, { onWorkerError: (err) => seen.push(err) });
  try {
    // What Piscina does with a worker's error that no task owns: an 'error' event on the pool.
    const pool = (builder as unknown as { piscina: import('node:events').EventEmitter }).piscina;
    assert.doesNotThrow(() => pool.emit('error', new Error('outside any build')));
    assert.deepEqual(seen.map((e) => e.message), ['outside any build']);
  } finally {
    await builder.close();
  }
});
