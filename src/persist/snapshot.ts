/**
 * Local snapshots of the in-memory index, so a restart loads sealed segments from the data
 * folder instead of reading every record back from Chroma and rebuilding every graph.
 *
 *   <dataDir>/segments/<uid>/<serial>.usearch   HNSW graph of a sealed segment (graph builder)
 *   <dataDir>/segments/<uid>/<base>.vectors     a segment's arena chunk images (float32 vectors,
 *                                               norms) for its first <count> slots
 *   <dataDir>/segments/<uid>/<base>.records     msgpack {ids, metadatas, documents} by slot
 *         <base> is <serial> for a sealed segment, <serial>-<count> for a growing or frozen one
 *   <dataDir>/snapshot/snap-<seq>.bin           msgpack: every collection at WAL seq <seq>:
 *                                               settings, and per segment its slot count, graph
 *                                               node count (sealed) and slot states (tombstones)
 *   <dataDir>/snapshot/manifest.json            {"version":1,"seq":…,"file":…,"bytes":…,"crc32c":…}
 *
 * Slots are append-only and never reused, so a segment's first <count> slots never change
 * except for their states, which the snapshot holds: the files of a (segment, count) are
 * written once, straight from the shared arena (no copy, off the main thread's time), and a
 * capture is only a copy of the state bytes. The manifest is replaced atomically (temp,
 * fsync, rename, fsync dir) after everything it names is durable, and files nothing names
 * any more are then deleted. The WAL keeps every record after the snapshot's seq, so
 * restore + replay(seq) is the exact state.
 */
import { Buffer } from 'node:buffer';
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import type { CollectionStore } from '../vector-index/collection.js';
import { CHUNK_SLOTS } from '../vector-index/layout.js';
import { segmentGraph, type Segment } from '../vector-index/segment.js';
import type { IndexSettings } from '../vector-index/settings.js';
import type { VectorIndex } from '../vector-index/vector-index.js';
import { fsyncPath } from './fsync.js';
import type { Metadata, Metric } from './ops.js';
import { crc32c } from './crc32c.js';

/**
 * 2: sealed segments may carry an int8 quantiser (l2 i8 graphs). Version 1 snapshots are still
 * read (they have none); a hotvec that knows only version 1 refuses a version 2 snapshot and
 * recovers from Chroma instead of searching quantised graphs with float queries.
 */
const VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];
const MANIFEST = 'manifest.json';

interface SnapSegment {
  serial: number;
  count: number;
  /** Graph nodes of a sealed segment; null for a growing or frozen one (restored frozen, sealed again). */
  nodes: number | null;
  /** How a sealed segment's l2 i8 graph was quantised (graph/quantize.ts); absent for the others (usearch's own cast, or none). */
  quantizer?: { scale: number; offset: number[] };
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

/** A snapshot taken synchronously at one seq; `write` makes it durable, `release` must follow. */
export interface Capture {
  body: SnapBody;
  /** Segments whose files (for their first `count` slots) must exist before the manifest names them. */
  files: { store: CollectionStore; seg: Segment; count: number; base: string }[];
  /** Lets the captured segments' memory go (held from the capture on, so nothing is reused under the writer). */
  release: () => void;
}

export interface RestoreReport {
  seq: number;
  collections: number;
  sealedSegments: number;
  records: number;
  seconds: number;
}

/** Files of a collection incarnation that garbage collection must spare. */
export interface KeepSet {
  /** Live segments (and a build in progress): their graph files stay. */
  serials: Set<number>;
  /** Serials from here on were handed out after the listing: all their files stay. */
  from: number;
}

const hex = (n: number): string => n.toString(16).padStart(8, '0');

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export class Snapshots {
  readonly segmentsDir: string;
  readonly dir: string;
  /** Makes snapshot file names unique even when two snapshots name the same seq. */
  private generation = Date.now();

  constructor(dataDir: string) {
    this.segmentsDir = join(dataDir, 'segments');
    this.dir = join(dataDir, 'snapshot');
  }

  segmentFile(store: { uid: string }, base: number | string, ext: 'usearch' | 'vectors' | 'records'): string {
    return join(this.segmentsDir, store.uid, `${base}.${ext}`);
  }

  /**
   * Captures every collection as it is now (main thread, synchronous: no write interleaves).
   * Cheap: per segment its slot count and a copy of its state bytes.
   */
  capture(index: VectorIndex, seq: number): Capture {
    const files: Capture['files'] = [];
    const collections: SnapCollection[] = [];
    const u8 = new Uint8Array(index.arena.buffer);
    for (const store of index.list()) {
      const segments: SnapSegment[] = [];
      for (const seg of store.list()) {
        const count = seg.count;
        if (count === 0) continue;
        const states = new Uint8Array(count);
        for (let s = 0; s < count; s++) states[s] = u8[seg.stateOffset(s)]!;
        const sealed = seg.phase === 'sealed' && seg.graph !== null;
        const snap: SnapSegment = { serial: seg.serial, count, nodes: sealed ? seg.graph!.nodes : null, states };
        const q = sealed ? seg.graph!.quantizer : undefined;
        if (q) snap.quantizer = { scale: q.scale, offset: Array.from(q.offset) };
        segments.push(snap);
        files.push({ store, seg, count, base: sealed ? String(seg.serial) : `${seg.serial}-${count}` });
      }
      collections.push({ name: store.name, uid: store.uid, dimension: store.dimension, metric: store.metric, settings: { ...store.settings }, segments });
    }
    const epoch = index.reclaimer.enter();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      index.reclaimer.exit(epoch);
    };
    return { body: { version: VERSION, seq, collections }, files, release };
  }

  /**
   * Makes a capture durable and current: sealed segments' files first, then the snapshot
   * file, then the manifest; then deletes what no snapshot and no live segment needs.
   * `keep` is asked, after the folders were listed, which files live collections still need.
   */
  async write(index: VectorIndex, capture: Capture, keep: () => Map<string, KeepSet>): Promise<{ bytes: number }> {
    await mkdir(this.dir, { recursive: true });
    for (const f of capture.files) await this.writeSegmentFiles(index, f);
    const bytes = pack(capture.body);
    const file = `snap-${capture.body.seq}-${++this.generation}.bin`;
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

  private async writeSegmentFiles(index: VectorIndex, f: Capture['files'][number]): Promise<void> {
    const { store, seg, count, base } = f;
    await mkdir(join(this.segmentsDir, store.uid), { recursive: true });
    await fsyncPath(this.segmentsDir); // a new collection folder must survive a power loss too
    const vectorsPath = this.segmentFile(store, base, 'vectors');
    const recordsPath = this.segmentFile(store, base, 'records');
    if (!(await exists(vectorsPath))) {
      const chunks = Math.ceil(count / CHUNK_SLOTS);
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
        ids: Array.from({ length: count }, (_, slot) => seg.id(slot) ?? ''),
        metadatas: seg.metadatas.slice(0, count).map((m) => m ?? null),
        documents: seg.documents.slice(0, count).map((d) => d ?? null),
      });
      await writeFile(`${recordsPath}.tmp`, body);
      await fsyncPath(`${recordsPath}.tmp`);
      await rename(`${recordsPath}.tmp`, recordsPath);
    }
    await fsyncPath(join(this.segmentsDir, store.uid));
  }

  /**
   * Deletes older snapshot files, and every segment file that neither this snapshot names nor
   * a live segment needs. `keep()` is evaluated after the folders are listed, so a segment or a
   * build that appears meanwhile has a serial at or above its watermark and is spared.
   */
  private async collectGarbage(body: SnapBody, file: string, keep: () => Map<string, KeepSet>): Promise<void> {
    for (const name of await readdir(this.dir)) {
      if (name !== file && name !== MANIFEST && name.startsWith('snap-')) await rm(join(this.dir, name), { force: true });
    }
    let uids: string[];
    try {
      uids = await readdir(this.segmentsDir);
    } catch {
      return;
    }
    const live = keep();
    const named = new Map<string, Set<string>>();
    for (const c of body.collections) {
      const set = new Set<string>();
      for (const s of c.segments) {
        const base = s.nodes === null ? `${s.serial}-${s.count}` : String(s.serial);
        set.add(`${base}.vectors`).add(`${base}.records`);
        if (s.nodes !== null) set.add(`${s.serial}.usearch`);
      }
      named.set(c.uid, set);
    }
    for (const uid of uids) {
      const names = named.get(uid);
      const alive = live.get(uid);
      if (!names && !alive) {
        await rm(join(this.segmentsDir, uid), { recursive: true, force: true });
        continue;
      }
      for (const name of await readdir(join(this.segmentsDir, uid))) {
        if (names?.has(name)) continue;
        const serial = Number(/^\d+/.exec(name)?.[0] ?? Number.NaN);
        if (alive && (serial >= alive.from || (alive.serials.has(serial) && name.startsWith(`${serial}.usearch`)))) continue;
        await rm(join(this.segmentsDir, uid, name), { force: true });
      }
    }
  }

  /** Removes the manifest (durably): a snapshot recovery would not use must never be used later. */
  async discard(): Promise<void> {
    await rm(join(this.dir, MANIFEST), { force: true });
    await fsyncPath(this.dir).catch(() => {});
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
      if (!READABLE_VERSIONS.includes(m.version)) return { warning: `snapshot manifest version ${m.version} is not one of ${READABLE_VERSIONS.join(', ')}` };
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
   * Loads a snapshot into an empty index: every segment's vectors are read straight into
   * arena chunks; sealed segments get their graph back (only named: workers map it on first
   * use); the last unsealed one comes back growing, others frozen (sealed again in the background).
   * Throws when a file is missing or short; the caller then falls back to Chroma.
   */
  async restore(index: VectorIndex, body: SnapBody): Promise<RestoreReport> {
    const started = performance.now();
    let records = 0;
    let sealedSegments = 0;
    for (const c of body.collections) {
      const store = index.add({ name: c.name, dimension: c.dimension, metric: c.metric, settings: c.settings }, c.uid);
      // New segments must not take a serial whose files an interrupted earlier snapshot left behind.
      const onDisk = await readdir(join(this.segmentsDir, c.uid)).catch(() => [] as string[]);
      for (const name of onDisk) {
        const serial = Number(/^\d+/.exec(name)?.[0] ?? Number.NaN);
        if (Number.isSafeInteger(serial)) store.reserveSerial(serial);
      }
      // The last unsealed segment keeps growing (small collections stay exact scans until they are worth a graph).
      const lastLoose = c.segments.filter((s) => s.nodes === null).at(-1);
      for (const s of c.segments) {
        const base = s.nodes === null ? `${s.serial}-${s.count}` : String(s.serial);
        const graphPath = this.segmentFile(store, s.serial, 'usearch');
        if (s.nodes !== null && !(await exists(graphPath))) throw new Error(`segment graph ${graphPath} is missing`);
        const seg = store.newSegment(s.count, s.serial);
        try {
          const h = await open(this.segmentFile(store, base, 'vectors'), 'r');
          try {
            for (let i = 0; i * CHUNK_SLOTS < s.count; i++) {
              const view = Buffer.from(index.arena.buffer, seg.chunks[i]!, store.layout.bytes);
              const { bytesRead } = await h.read(view, 0, view.length, i * store.layout.bytes);
              if (bytesRead !== view.length) throw new Error(`segment vectors ${base} of ${c.name} are short`);
            }
          } finally {
            await h.close();
          }
          const rec = unpack(await readFile(this.segmentFile(store, base, 'records'))) as { ids: string[]; metadatas: (Metadata | null)[]; documents: (string | null)[] };
          if (rec.ids.length !== s.count) throw new Error(`segment records ${base} of ${c.name}: ${rec.ids.length} ids for ${s.count} slots`);
          const q = s.quantizer;
          const quantizer = q ? { scale: q.scale, offset: Float32Array.from(q.offset) } : undefined;
          const graph = s.nodes === null ? null : segmentGraph(graphPath, s.nodes, quantizer);
          records += store.adoptSegment(seg, { ...rec, states: s.states, count: s.count }, graph, s === lastLoose);
        } catch (err) {
          store.releaseUnused(seg); // not adopted: nothing else would give its memory back
          throw err;
        }
        if (s.nodes !== null) sealedSegments++;
      }
    }
    return { seq: body.seq, collections: body.collections.length, sealedSegments, records, seconds: (performance.now() - started) / 1000 };
  }
}
