/** Test worker: reads ids from the shared memory with an IdReader, as a query worker will. */
import { parentPort, workerData } from 'node:worker_threads';
import { IdReader } from '../../src/vector-index/id-heap.js';
import { chunkLayout } from '../../src/vector-index/layout.js';

const { memory, dimension, places } = workerData as { memory: WebAssembly.Memory; dimension: number; places: [chunk: number, slot: number][] };
const reader = new IdReader(memory);
const layout = chunkLayout(dimension);
parentPort!.postMessage(places.map(([chunk, slot]) => reader.read(layout, chunk, slot) ?? null));
