/**
 * Sealed segments through the whole engine: background sealing and merging while serving,
 * per-collection HNSW settings and per-query ef/exact over HTTP, and restarts that load the
 * sealed segments (graphs, vectors, tombstones) from the data folder — after kill -9 with
 * writes only in the WAL, after a graceful stop, and a fall-back to Chroma when the local
 * snapshot is damaged. Every restart must have exactly the acknowledged state.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { useEngines } from '../helpers/engines.js';
import { call, randomVectors, type Hotvec } from '../helpers/hotvec.js';
import { bruteForce } from '../helpers/reference.js';

const DIM = 16;
const NAME = 'seg';
const engines = useEngines(['--segment-records', '1024', '--seal-idle-ms', '200', '--seal-min-records', '200', '--snapshot-interval-ms', '1000']);
const start = (dataDir: string): Promise<Hotvec> => engines.start(dataDir);

interface Detail {
  count: number;
  indexing: boolean;
  index: { m: number; efConstruction: number; efSearch: number; storage: string };
  segments: { serial: number; phase: string; records: number; live: number }[];
}

async function detail(h: Hotvec): Promise<Detail> {
  const r = await call<Detail>(h.url, 'GET', `/v1/collections/${NAME}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/**
 * Waits until nothing is left to seal or merge: no job for longer than the idle delay (the
 * last growing segment may stay unsealed when it is under --seal-min-records).
 */
async function settled(h: Hotvec): Promise<Detail> {
  const deadline = Date.now() + 60_000;
  let quiet = 0;
  for (;;) {
    const d = await detail(h);
    quiet = !d.indexing && !d.segments.some((s) => s.phase === 'frozen') ? quiet + 1 : 0;
    if (quiet >= 4 && d.segments.some((s) => s.phase === 'sealed')) return d;
    if (Date.now() > deadline) throw new Error(`indexing did not settle: ${JSON.stringify(d)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function upsert(h: Hotvec, model: Map<string, number[]>, ids: string[], vecs: number[][]): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    const r = await call(h.url, 'POST', `/v1/collections/${NAME}/upsert`, { ids: ids.slice(i, i + 1000), embeddings: vecs.slice(i, i + 1000) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  ids.forEach((id, i) => model.set(id, vecs[i]!.map(Math.fround)));
}

async function remove(h: Hotvec, model: Map<string, number[]>, ids: string[]): Promise<void> {
  const r = await call(h.url, 'POST', `/v1/collections/${NAME}/delete`, { ids });
  assert.equal(r.status, 200);
  for (const id of ids) model.delete(id);
}

/** Every id ever written: present with the model's vector, or absent when deleted. */
async function assertState(h: Hotvec, model: Map<string, number[]>, everIds: string[], label: string): Promise<void> {
  assert.equal((await detail(h)).count, model.size, `${label}: count`);
  for (let i = 0; i < everIds.length; i += 1000) {
    const ids = everIds.slice(i, i + 1000);
    const r = await call<{ ids: string[]; embeddings: number[][] }>(h.url, 'POST', `/v1/collections/${NAME}/get`, { ids, include: ['embeddings'] });
    assert.equal(r.status, 200);
    const got = new Map(r.body.ids.map((id, j) => [id, r.body.embeddings[j]!]));
    for (const id of ids) assert.deepEqual(got.get(id), model.get(id), `${label}: record ${id}`);
  }
}

async function recall(h: Hotvec, model: Map<string, number[]>, queries: number[][], extra: object = {}): Promise<number> {
  const r = await call<{ ids: string[][] }>(h.url, 'POST', `/v1/collections/${NAME}/query`, { embeddings: queries, k: 10, ...extra });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  let hits = 0;
  queries.forEach((q, i) => {
    const want = new Set(bruteForce('l2', model, q, 10).map((w) => w.id));
    for (const id of r.body.ids[i]!) {
      assert.ok(model.has(id), `deleted or unknown id ${id} returned`);
      if (want.has(id)) hits++;
    }
  });
  return hits / (queries.length * 10);
}

test('sealed segments serve queries, and restarts load them from the data folder with exactly the acknowledged state', async () => {
  const dataDir = await engines.dataDir();
  const h = await start(dataDir);
  const created = await call(h.url, 'POST', '/v1/collections', { name: NAME, dimension: DIM, index: { m: 12, efSearch: 64 } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const model = new Map<string, number[]>();
  const vecs = randomVectors(3500, DIM, 5);
  const ids = vecs.map((_, i) => `s${i}`);
  await upsert(h, model, ids, vecs);
  // Tombstones in what will be sealed, then let it seal and merge.
  await remove(h, model, ids.filter((_, i) => i % 7 === 0));
  let d = await settled(h);
  assert.deepEqual(d.index, { m: 12, efConstruction: 100, efSearch: 64, storage: 'f32' });
  assert.equal(d.count, model.size);
  const queries = randomVectors(20, DIM, 6);
  const annRecall = await recall(h, model, queries);
  assert.ok(annRecall >= 0.9, `recall@10 through the graph: ${annRecall}`);
  assert.equal(await recall(h, model, queries, { exact: true }), 1);
  assert.ok((await recall(h, model, queries, { ef: 256 })) >= annRecall - 0.02);
  const bad = await call<{ error: { code: string } }>(h.url, 'POST', `/v1/collections/${NAME}/query`, { embeddings: queries.slice(0, 1), ef: 0 });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 'HOTVEC_INVALID_ARGUMENT');

  // Writes after the last snapshot live only in the WAL: overwrite some sealed records, delete others, add new ones.
  await new Promise((r) => setTimeout(r, 1500)); // a periodic snapshot covers the sealed state
  const over = ids.filter((_, i) => i % 5 === 1);
  await upsert(h, model, over, randomVectors(over.length, DIM, 7));
  await remove(h, model, ids.filter((_, i) => i % 11 === 2));
  const extra = randomVectors(300, DIM, 8);
  const extraIds = extra.map((_, i) => `x${i}`);
  await upsert(h, model, extraIds, extra);
  const everIds = [...ids, ...extraIds];
  await h.kill9();

  const h2 = await start(dataDir);
  const restored = h2.logs.find((l) => l.includes('"recovery done"'));
  assert.ok(restored && restored.includes('"snapshot"'), `restart recovered from the local snapshot: ${restored}`);
  assert.ok(!h2.logs.some((l) => l.includes('hydrating from Chroma instead')), h2.logs.join('\n'));
  // Sealed segments came back sealed: no graph was rebuilt for them.
  d = await detail(h2);
  assert.ok(d.segments.some((s) => s.phase === 'sealed'), JSON.stringify(d.segments));
  await assertState(h2, model, everIds, 'after kill -9');
  assert.ok((await recall(h2, model, queries)) >= 0.9);
  assert.equal(await recall(h2, model, queries, { exact: true }), 1);

  // A graceful stop writes a final snapshot: the next start replays nothing.
  assert.equal(await h2.stop(), 0);
  const h3 = await start(dataDir);
  const report = JSON.parse(h3.logs.find((l) => l.includes('"recovery done"'))!) as { replayedOps: number; snapshot?: { records: number } };
  assert.equal(report.snapshot?.records, model.size);
  assert.equal(report.replayedOps, 0);
  await assertState(h3, model, everIds, 'after a graceful restart');
  assert.equal(await h3.stop(), 0);

  // A damaged snapshot is not trusted: the engine hydrates from Chroma and has the same state.
  const manifest = join(dataDir, 'snapshot', 'manifest.json');
  const m = JSON.parse(await readFile(manifest, 'utf8')) as { file: string };
  const snap = join(dataDir, 'snapshot', m.file);
  const bytes = await readFile(snap);
  bytes[bytes.length >> 1] ^= 0xff;
  await writeFile(snap, bytes);
  const h4 = await start(dataDir);
  assert.ok(h4.logs.some((l) => l.includes('hydrating from Chroma instead')), 'the damaged snapshot was reported');
  await assertState(h4, model, everIds, 'after hydrating from Chroma');
  await settled(h4);
  assert.ok((await recall(h4, model, queries)) >= 0.9);
  assert.equal(await h4.stop(), 0);
});
