/**
 * Pool worker entry: claims a scratch slot in the shared arena once, then answers search
 * tasks over the shared vectors: it reads the collection's segments from its directory entry,
 * scans growing segments with the distance kernel and searches sealed ones through
 * memory-mapped HNSW views. Retired graph files are announced on a BroadcastChannel.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { move, workerData } from 'piscina';
import { queryCacheFor } from '../cache/query-cache.js';
import { GraphViews } from '../graph/views.js';
import { createScalarKernels, createWasmKernels } from '../kernels/index.js';
import { batchThreadPolicy } from '../platform/priority.js';
import { QueryAnswerer } from '../query-port/answer.js';
import { EngineStatus, StatusWord, type QueryPortInit } from '../query-port/messages.js';
import { WorkerRelay } from '../query-port/relay.js';
import { QueryPortServer } from '../query-port/server.js';
import { CatalogReader } from '../vector-index/catalog.js';
import { DirectoryReader } from '../vector-index/directory.js';
import { IdReader } from '../vector-index/id-heap.js';
import { HeaderWord, SCRATCH_CLAIM_WORDS } from '../vector-index/layout.js';
import { ReaderEpochs } from '../vector-index/reader-epochs.js';
import { Scanner } from '../vector-index/scan.js';
import { reportLoaded, unref } from './loaded-workers.js';
import { GRAPH_CHANNEL, packSearchReply, type GraphRetired, type SearchReply, type SearchTask, type WorkerInit, type WorkerLoaded } from './messages.js';

const init = workerData as WorkerInit;
const schedBatch = init.schedBatch ? batchThreadPolicy() : false;

/** Claims the first free bit of the scratch bitmap; a worker keeps its slot for life. */
function claimScratchSlot(memory: WebAssembly.Memory, slots: number): number {
  const header = new Int32Array(memory.buffer as unknown as SharedArrayBuffer, 0, HeaderWord.SCRATCH_CLAIMS + SCRATCH_CLAIM_WORDS);
  for (let slot = 0; slot < slots; slot++) {
    const word = HeaderWord.SCRATCH_CLAIMS + (slot >> 5);
    const bit = 1 << (slot & 31);
    if ((Atomics.or(header, word, bit) & bit) === 0) return slot;
  }
  throw new Error(`no free scratch slot among ${slots}: more workers were started than the arena reserved`);
}

const slot = claimScratchSlot(init.memory, init.scratch.slots);
const epochs = new ReaderEpochs(init.memory);
const directory = new DirectoryReader(init.memory);
const base = init.scratch.base + slot * init.scratch.stride;
const kernels = init.kernel === 'scalar' ? createScalarKernels(init.memory) : createWasmKernels(init.memory);
const graphs = new GraphViews();
const scanner = new Scanner(
  init.memory,
  kernels,
  { queryOffset: base + init.scratch.queryOffset, distancesOffset: base + init.scratch.distancesOffset },
  graphs,
);

const channel = new BroadcastChannel(GRAPH_CHANNEL);
channel.onmessage = (event: unknown) => graphs.forget((event as { data: GraphRetired }).data.forget);
// The channel must not keep an idle worker alive at shutdown.
unref(channel);

/**
 * Defence against a view of the shared memory that lags its growth by the main thread (how a
 * grow reaches other threads is V8's business; a CI run once saw "Invalid atomic access index"
 * in a worker right after growth, not reproduced since): grow(0) brings this thread's buffer and
 * the kernels' bounds up to date; a task that still names memory beyond them fails clearly.
 */
function catchUpWithGrowth(bytes: number): void {
  if (init.memory.buffer.byteLength >= bytes) return;
  init.memory.grow(0);
  if (init.memory.buffer.byteLength < bytes) {
    throw new Error(`shared memory is ${init.memory.buffer.byteLength} bytes in this worker, the task needs ${bytes}`);
  }
}

export default function search(task: SearchTask): SearchReply {
  const started = performance.now();
  catchUpWithGrowth(task.memoryBytes);
  // Pinned while it reads the directory entry and the segments. (The main thread also holds
  // them for the task until it has resolved the answer; a worker that reads them on its own
  // needs its pin.)
  epochs.pin(slot);
  try {
    const target = directory.read(task.directory);
    const { refs, distances } = scanner.search(target, task.queries, task.k, task.options);
    return move(packSearchReply(refs, distances, (performance.now() - started) / 1000)) as SearchReply;
  } finally {
    epochs.unpin(slot);
  }
}

/** The query port: this worker takes its own connections for queries (query-port/server.ts). */
async function serveQueryPort(qp: QueryPortInit): Promise<boolean> {
  const cache = qp.cacheBytes > 0 ? queryCacheFor(qp.cacheBytes, qp.cacheAdmission) : undefined;
  const answerer = new QueryAnswerer({
    memory: init.memory,
    catalog: new CatalogReader(init.memory, qp.catalogOffset),
    directory,
    ids: new IdReader(init.memory),
    scanner,
    epochs,
    slot,
    limits: { maxBatch: qp.maxBatch, maxK: qp.maxK },
    cache,
  });
  const relay = new WorkerRelay(qp.relay, () => cache?.stats(), () => server.close());
  const server = new QueryPortServer(qp, answerer, relay);
  // A thread that ends with uWS sockets open aborts the whole process: close them first.
  process.on('uncaughtExceptionMonitor', () => server.close());
  // A worker (re)started while the engine stops must not open sockets the pool would then stop it
  // with; the status is looked at again after listening, since the stop may begin in between.
  const stopping = (): boolean => Atomics.load(new Int32Array(qp.status), StatusWord.STATUS) === EngineStatus.STOPPING;
  if (stopping()) {
    relay.reportClosed();
    return false;
  }
  const listening = await server.listen();
  if (!listening || stopping()) {
    server.close();
    if (listening) relay.reportClosed();
  }
  return listening;
}

const queryPort = init.queryPort ? await serveQueryPort(init.queryPort) : undefined;

// Last: from here on the pool may terminate this worker safely (having closed the query port first).
reportLoaded<WorkerLoaded>(init.loadedChannel, queryPort === undefined ? { schedBatch, slot } : { schedBatch, slot, queryPort });
