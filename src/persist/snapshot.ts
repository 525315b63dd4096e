/**
 * Local snapshots of the in-memory index, so a restart loads sealed segments from the data
 * folder instead of reading every record back from Chroma and rebuilding every graph.
 *
 *   <dataDir>/segments/<uid>/<serial>.usearch   HNSW graph of a sealed segment (graph builder)
 *   <dataDir>/segments/<uid>/<serial>.vectors   its arena chunk images (float32 vectors, norms)
 *   <dataDir>/segments/<uid>/<serial>.records   msgpack {ids, metadatas, documents} by slot
 *   <dataDir>/snapshot/snap-<seq>.bin           msgpack: every collection at WAL seq <seq>:
 *                                               settings, its sealed segments with their slot
 *                                               states (tombstones), and the records of its
 *                                               growing/frozen segments ("loose" records)
 *   <dataDir>/snapshot/manifest.json            {"version":1,"seq":…,"file":…,"bytes":…,"crc32c":…}
 *
 * A sealed segment's three files never change once written (only its tombstones do, and
 * those live in the snapshot). The manifest is replaced atomically (temp, fsync, rename,
 * fsync dir) after everything it names is durable, and files nothing names any more are
 * then deleted. The WAL keeps every record after the snapshot's seq, so
 * restore + replay(seq) is the exact state.
 */
import { Buffer } from 'node:buffer';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import type { CollectionStore } from '../vector-index/collection.js';
import { CHUNK_SLOTS } from '../vector-index/layout.js';
import type { Segment } from '../vector-index/segment.js';
import type { IndexSettings } from '../vector-index/settings.js';
import type { VectorIndex } from '../vector-index/vector-index.js';
import type { Metadata, Metric } from './ops.js';
import { float32FromBytes } from './ops.js';
import { crc32c } from './wal-format.js';

const VERSION = 1;
const MANIFEST = 'manifest.json';

interface SnapSegment {
  serial: number;
  count: number;
  nodes: number;
  /** One byte per slot: LIVE 1 / DEAD 0 at the snapshot's seq. */
  states: Uint8Array;
}

interface SnapCollection {
  name: string;
  uid: string;
  dimension: number;
  metric: Metric;
  settings: IndexSettings;
  segments: SnapSegment[];
  loose: { ids: string[]; embeddings: Uint8Array; metadatas: (Metadata | null)[]; documents: (string | null)[] };
}

interface SnapBody {
  version: number;
  seq: number;
  collections: SnapCollection[];
}

interface Manifest {
  version: number;
  seq: number;
  file: string;
  bytes: number;
  crc32c: string;
}

/** A snapshot taken synchronously at one seq; `write` makes it durable. */
export interface Capture {
  body: SnapBody;
  /** Sealed segments whose immutable files must exist before the manifest names them. */
  sealed: { store: CollectionStore; seg: Segment }[];
}

export interface RestoreReport {
  seq: number;
  collections: number;
  sealedSegments: number;
  records: number;
  seconds: number;
}

const hex = (n: number): string => n.toString(16).padStart(8, '0');

async function fsyncPath(path: string): Promise<void> {
  const h = await open(path, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export class Snapshots {
  readonly segmentsDir: string;
  readonly dir: string;

  constructor(dataDir: string) {
    this.segmentsDir = join(dataDir, 'segments');
    this.dir = join(dataDir, 'snapshot');
  }

  segmentFile(store: { uid: string }, serial: number, ext: 'usearch' | 'vectors' | 'records'): string {
    return join(this.segmentsDir, store.uid, `${serial}.${ext}`);
  }

  /** Captures every collection as it is now (main thread, synchronous: no write interleaves). */
  capture(index: VectorIndex, seq: number): Capture {
    const sealed: Capture['sealed'] = [];
    const collections: SnapCollection[] = [];
    const u8 = new Uint8Array(index.arena.buffer);
    for (const store of index.list()) {
      const segments: SnapSegment[] = [];
      const ids: string[] = [];
      const metadatas: (Metadata | null)[] = [];
      const documents: (string | null)[] = [];
      const vectors: Float32Array[] = [];
      for (const seg of store.list()) {
        if (seg.phase === 'sealed' && seg.graph) {
          const states = new Uint8Array(seg.count);
          for (let s = 0; s < seg.count; s++) states[s] = u8[seg.stateOffset(s)]!;
          segments.push({ serial: seg.serial, count: seg.count, nodes: seg.graph.nodes, states });
          sealed.push({ store, seg });
          continue;
        }
        for (const slot of seg.liveSlots()) {
          ids.push(seg.ids[slot]!);
          metadatas.push(seg.metadatas[slot] ?? null);
          documents.push(seg.documents[slot] ?? null);
          vectors.push(seg.vector(slot));
        }
      }
      const embeddings = new Uint8Array(ids.length * store.dimension * 4);
      vectors.forEach((v, i) => embeddings.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), i * store.dimension * 4));
      collections.push({
        name: store.name,
        uid: store.uid,
        dimension: store.dimension,
        metric: store.metric,
        settings: { ...store.settings },
        segments,
        loose: { ids, embeddings, metadatas, documents },
      });
    }
    return { body: { version: VERSION, seq, collections }, sealed };
  }

  /**
   * Makes a capture durable and current: sealed segments' files first, then the snapshot
   * file, then the manifest; then deletes what no snapshot and no live segment needs.
   * `keep` lists the uid folders of live collections (their in-progress graph files stay).
   */
  async write(index: VectorIndex, capture: Capture, keep: Map<string, Set<number>>): Promise<{ bytes: number }> {
    await mkdir(this.dir, { recursive: true });
    const epoch = index.reclaimer.enter(); // sealed chunks must not be released while we copy them out
    try {
      for (const { store, seg } of capture.sealed) await this.writeSegmentFiles(index, store, seg);
    } finally {
      index.reclaimer.exit(epoch);
    }
    const bytes = pack(capture.body);
    const file = `snap-${capture.body.seq}.bin`;
    const temp = join(this.dir, `${file}.tmp`);
    await writeFile(temp, bytes);
    await fsyncPath(temp);
    await rename(temp, join(this.dir, file));
    const manifest: Manifest = { version: VERSION, seq: capture.body.seq, file, bytes: bytes.length, crc32c: hex(crc32c(bytes)) };
    const mtemp = join(this.dir, `${MANIFEST}.tmp`);
    await writeFile(mtemp, `${JSON.stringify(manifest)}\n`);
    await fsyncPath(mtemp);
    await rename(mtemp, join(this.dir, MANIFEST));
    await fsyncPath(this.dir);
    await this.collectGarbage(capture.body, file, keep);
    return { bytes: bytes.length };
  }

  private async writeSegmentFiles(index: VectorIndex, store: CollectionStore, seg: Segment): Promise<void> {
    const vectorsPath = this.segmentFile(store, seg.serial, 'vectors');
    const recordsPath = this.segmentFile(store, seg.serial, 'records');
    if (!(await exists(vectorsPath))) {
      const chunks = Math.ceil(seg.count / CHUNK_SLOTS);
      const views = seg.chunks.slice(0, chunks).map((c) => Buffer.from(index.arena.buffer, c, store.layout.bytes));
      const h = await open(`${vectorsPath}.tmp`, 'w');
      try {
        await h.writev(views);
        await h.sync();
      } finally {
        await h.close();
      }
      await rename(`${vectorsPath}.tmp`, vectorsPath);
    }
    if (!(await exists(recordsPath))) {
      const body = pack({
        ids: seg.ids.slice(0, seg.count).map((id) => id ?? ''),
        metadatas: seg.metadatas.slice(0, seg.count).map((m) => m ?? null),
        documents: seg.documents.slice(0, seg.count).map((d) => d ?? null),
      });
      await writeFile(`${recordsPath}.tmp`, body);
      await fsyncPath(`${recordsPath}.tmp`);
      await rename(`${recordsPath}.tmp`, recordsPath);
    }
    await fsyncPath(join(this.segmentsDir, store.uid));
  }

  private async collectGarbage(body: SnapBody, file: string, keep: Map<string, Set<number>>): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name !== file && name !== MANIFEST && name.startsWith('snap-')) await rm(join(this.dir, name), { force: true });
    }
    const wanted = new Map<string, Set<number>>();
    for (const [uid, serials] of keep) wanted.set(uid, new Set(serials));
    for (const c of body.collections) {
      const set = wanted.get(c.uid) ?? new Set<number>();
      for (const s of c.segments) set.add(s.serial);
      wanted.set(c.uid, set);
    }
    let uids: string[];
    try {
      uids = await readdir(this.segmentsDir);
    } catch {
      return;
    }
    for (const uid of uids) {
      const serials = wanted.get(uid);
      if (!serials) {
        await rm(join(this.segmentsDir, uid), { recursive: true, force: true });
        continue;
      }
      for (const name of await readdir(join(this.segmentsDir, uid))) {
        const serial = Number(name.split('.')[0]);
        if (!serials.has(serial)) await rm(join(this.segmentsDir, uid, name), { force: true });
      }
    }
  }

  /** The seq the manifest on disk names (the WAL must keep what follows it), or undefined. */
  async manifestSeq(): Promise<number | undefined> {
    try {
      const m = JSON.parse(await readFile(join(this.dir, MANIFEST), 'utf8')) as Partial<Manifest>;
      return typeof m.seq === 'number' ? m.seq : undefined;
    } catch {
      return undefined;
    }
  }

  /** The current snapshot, null when there is none, or a warning when it cannot be trusted. */
  async read(): Promise<{ body: SnapBody } | { warning: string } | null> {
    let text: string;
    try {
      text = await readFile(join(this.dir, MANIFEST), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return { warning: `cannot read ${join(this.dir, MANIFEST)}: ${(err as Error).message}` };
    }
    try {
      const m = JSON.parse(text) as Manifest;
      if (m.version !== VERSION) return { warning: `snapshot manifest version ${m.version} is not ${VERSION}` };
      const bytes = await readFile(join(this.dir, m.file));
      if (bytes.length !== m.bytes || hex(crc32c(bytes)) !== m.crc32c) return { warning: `snapshot ${m.file} does not match its manifest (size or checksum)` };
      const body = unpack(bytes) as SnapBody;
      if (body.seq !== m.seq) return { warning: `snapshot ${m.file} holds seq ${body.seq}, its manifest says ${m.seq}` };
      return { body };
    } catch (err) {
      return { warning: `snapshot unreadable: ${(err as Error).message}` };
    }
  }

  /**
   * Loads a snapshot into an empty index: sealed segments from their files (vectors read
   * straight into arena chunks, graphs only named: workers map them on first use), loose
   * records re-appended (they are sealed again in the background). Throws when a file is
   * missing or short; the caller then falls back to Chroma.
   */
  async restore(index: VectorIndex, body: SnapBody): Promise<RestoreReport> {
    const started = performance.now();
    let records = 0;
    let sealedSegments = 0;
    for (const c of body.collections) {
      const store = index.add({ name: c.name, dimension: c.dimension, metric: c.metric, settings: c.settings }, c.uid);
      for (const s of c.segments) {
        const graphPath = this.segmentFile(store, s.serial, 'usearch');
        if (!(await exists(graphPath))) throw new Error(`segment graph ${graphPath} is missing`);
        const seg = store.newSegment(s.count, s.serial);
        const h = await open(this.segmentFile(store, s.serial, 'vectors'), 'r');
        try {
          for (let i = 0; i * CHUNK_SLOTS < s.count; i++) {
            const view = Buffer.from(index.arena.buffer, seg.chunks[i]!, store.layout.bytes);
            const { bytesRead } = await h.read(view, 0, view.length, i * store.layout.bytes);
            if (bytesRead !== view.length) throw new Error(`segment vectors ${s.serial} of ${c.name} are short`);
          }
        } finally {
          await h.close();
        }
        const rec = unpack(await readFile(this.segmentFile(store, s.serial, 'records'))) as { ids: string[]; metadatas: (Metadata | null)[]; documents: (string | null)[] };
        if (rec.ids.length !== s.count) throw new Error(`segment records ${s.serial} of ${c.name}: ${rec.ids.length} ids for ${s.count} slots`);
        const live = store.adoptSealed(seg, { ...rec, states: s.states, count: s.count }, { path: graphPath, nodes: s.nodes });
        records += live;
        sealedSegments++;
      }
      const n = c.loose.ids.length;
      if (n > 0) {
        store.upsert(c.loose.ids, float32FromBytes(c.loose.embeddings), c.loose.metadatas, c.loose.documents);
        records += n;
      }
    }
    return { seq: body.seq, collections: body.collections.length, sealedSegments, records, seconds: (performance.now() - started) / 1000 };
  }
}
