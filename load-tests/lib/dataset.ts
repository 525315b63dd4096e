/**
 * The synthetic data set of a load run: seeded clustered vectors (64 centres, points spread
 * around them, like load-tests/baseline.ts), and the collection that holds them on the target.
 */
import { Packr } from 'msgpackr';
import { rng } from '../../test/helpers/hotvec.js';

const packr = new Packr({ useRecords: false });

export type Metric = 'l2' | 'cosine' | 'ip';

export interface DatasetOptions {
  collection: string;
  n: number;
  dim: number;
  metric: Metric;
  seed: number;
}

export interface DatasetInfo {
  collection: string;
  n: number;
  dim: number;
  metric: string;
  /** Seconds the upload took (0 when the collection was used as found). */
  uploadSeconds: number;
}

/** `count` vectors of `dim` float32 values, row-major; the same seed gives the same vectors. */
export function clusteredVectors(count: number, dim: number, seed: number): Float32Array {
  const r = rng(seed);
  const centres = Array.from({ length: 64 }, () => Float32Array.from({ length: dim }, () => r() * 2 - 1));
  const out = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    const c = centres[Math.floor(r() * centres.length)]!;
    for (let j = 0; j < dim; j++) out[i * dim + j] = c[j]! + (r() + r() + r() - 1.5) * 0.2;
  }
  return out;
}

/** The float32 bytes of rows `[from, to)` as msgpack wants them (a view, not a copy). */
export function rowsAsBin(data: Float32Array, dim: number, from: number, to: number): Uint8Array {
  const rows = data.subarray(from * dim, to * dim);
  return new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength);
}

export const vectorId = (i: number): string => `v${i}`;

async function expectOk(res: Response, what: string): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

/**
 * Drops and recreates the collection on the target and uploads `n` vectors (msgpack, batches of
 * 500, 4 in flight; each batch is acknowledged once durable).
 */
export async function uploadDataset(url: string, options: DatasetOptions): Promise<DatasetInfo> {
  const { collection, n, dim, metric, seed } = options;
  const base = `${url}/v1/collections`;
  const dropped = await fetch(`${base}/${collection}`, { method: 'DELETE' });
  if (dropped.status !== 404) await expectOk(dropped, `dropping collection ${collection}`);
  await expectOk(
    await fetch(base, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: collection, dimension: dim, metric }) }),
    `creating collection ${collection}`,
  );
  const data = clusteredVectors(n, dim, seed);
  const batch = 500;
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < n) {
        const from = next;
        const to = Math.min(n, from + batch);
        next = to;
        const ids = Array.from({ length: to - from }, (_, i) => vectorId(from + i));
        const res = await fetch(`${base}/${collection}/upsert`, {
          method: 'POST',
          headers: { 'content-type': 'application/msgpack', accept: 'application/json' },
          body: packr.pack({ ids, embeddings: rowsAsBin(data, dim, from, to) }),
        });
        await expectOk(res, `uploading vectors ${from}..${to}`);
      }
    }),
  );
  return { collection, n, dim, metric, uploadSeconds: (performance.now() - started) / 1000 };
}

/** Reads the dimension and size of a collection that is used as found (`--no-setup`). */
export async function describeCollection(url: string, collection: string): Promise<DatasetInfo> {
  const info = (await expectOk(await fetch(`${url}/v1/collections/${collection}`), `reading collection ${collection} (it must exist with --no-setup)`)) as {
    dimension: number;
    metric: string;
    count: number;
  };
  return { collection, n: info.count, dim: info.dimension, metric: info.metric, uploadSeconds: 0 };
}
