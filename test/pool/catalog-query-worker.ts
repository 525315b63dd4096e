/**
 * Query thread of the concurrency test's catalog variant (reads-against-writes.test.ts): answers
 * queries as a query-port worker does (query-port/answer.ts: the collection's current view from
 * the shared catalog, the search, the ids from the shared id table), without the HTTP around it.
 * Messages: `{ id, name, body }` in, `{ id, result }` or `{ id, error }` out.
 *
 * Outside a worker it does nothing (`node --test` runs every file under a test/ folder).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GraphViews } from '../../src/graph/views.js';
import { createWasmKernels } from '../../src/kernels/index.js';
import { QueryAnswerer } from '../../src/query-port/answer.js';
import { CatalogReader } from '../../src/vector-index/catalog.js';
import { DirectoryReader } from '../../src/vector-index/directory.js';
import { IdReader } from '../../src/vector-index/id-heap.js';
import type { ScratchLayout } from '../../src/vector-index/layout.js';
import { ReaderEpochs } from '../../src/vector-index/reader-epochs.js';
import { Scanner } from '../../src/vector-index/scan.js';

export interface CatalogWorkerInit {
  memory: WebAssembly.Memory;
  scratch: ScratchLayout;
  /** A scratch slot no other thread claims (its reader-epoch word too). */
  slot: number;
  catalogOffset: number;
}

const init = workerData as CatalogWorkerInit | null;
if (init && parentPort) {
  const { memory, scratch, slot } = init;
  const base = scratch.base + slot * scratch.stride;
  const scanner = new Scanner(memory, createWasmKernels(memory), { queryOffset: base + scratch.queryOffset, distancesOffset: base + scratch.distancesOffset }, new GraphViews());
  const answerer = new QueryAnswerer({
    memory,
    catalog: new CatalogReader(memory, init.catalogOffset),
    directory: new DirectoryReader(memory),
    ids: new IdReader(memory),
    scanner,
    epochs: new ReaderEpochs(memory),
    slot,
    limits: { maxBatch: 1000, maxK: 100 },
    cache: undefined,
  });
  const port = parentPort;
  port.on('message', (m: { id: number; name: string; body: unknown }) => {
    try {
      port.postMessage({ id: m.id, result: answerer.answer(m.name, m.body) });
    } catch (err) {
      port.postMessage({ id: m.id, error: String((err as Error).stack ?? err) });
    }
  });
}
