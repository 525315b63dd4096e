/**
 * Durability: kill -9 after acknowledged writes, restart, and every acknowledged write is
 * there, nothing deleted comes back; Chroma ends with exactly the acknowledged state; an
 * empty data folder hydrates from Chroma.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChromaClient } from 'chromadb';
import { useEngines } from '../helpers/engines.js';
import { call, callMsgpack, randomVectors, type Hotvec } from '../helpers/hotvec.js';

const engines = useEngines();
const start = (dataDir: string): Promise<Hotvec> => engines.start(dataDir);

interface Rec {
  embedding: number[];
  metadata: Record<string, string | number | boolean> | null;
  document: string | null;
}

const DIM = 6;

async function readAll(h: Hotvec, name: string, ids: string[]): Promise<Map<string, Rec>> {
  const out = new Map<string, Rec>();
  for (let i = 0; i < ids.length; i += 1000) {
    const r = await call<{ ids: string[]; embeddings: number[][]; metadatas: Rec['metadata'][]; documents: (string | null)[] }>(h.url, 'POST', `/v1/collections/${name}/get`, {
      ids: ids.slice(i, i + 1000),
      include: ['embeddings', 'metadatas', 'documents'],
    });
    assert.equal(r.status, 200);
    r.body.ids.forEach((id, j) => out.set(id, { embedding: r.body.embeddings[j]!, metadata: r.body.metadatas[j]!, document: r.body.documents[j]! }));
  }
  return out;
}

function assertSameState(got: Map<string, Rec>, model: Map<string, Rec>, where: string): void {
  assert.equal(got.size, model.size, `${where}: ${got.size} records, expected ${model.size}`);
  for (const [id, rec] of model) assert.deepEqual(got.get(id), rec, `${where}: record ${id}`);
}

const model = new Map<string, Rec>();
const cosModel: number[][] = [];
const everId = new Set<string>();
let dataDir = '';

test('kill -9 after acknowledged writes: restart finds every one, and no deleted record comes back', async () => {
  dataDir = await engines.dataDir();
  const h = await start(dataDir);
  assert.equal((await call(h.url, 'POST', '/v1/collections', { name: 'durable', dimension: DIM, metric: 'ip' })).status, 201);
  // Chroma hands back cosine vectors re-normalised (within ~1 ulp, measured), so the exact
  // comparisons below use ip; cosine hydration is checked with a tolerance further down.
  assert.equal((await call(h.url, 'POST', '/v1/collections', { name: 'durable-cos', dimension: DIM, metric: 'cosine' })).status, 201);
  const cos = randomVectors(50, DIM, 78);
  assert.equal((await call(h.url, 'POST', '/v1/collections/durable-cos/upsert', { ids: cos.map((_, i) => `c${i}`), embeddings: cos })).status, 200);
  cosModel.push(...cos);
  const vecs = randomVectors(3000, DIM, 77);
  // Concurrent batches of upserts, then overwrites with new metadata, then deletes.
  const batches = Array.from({ length: 20 }, (_, b) => b);
  await Promise.all(
    batches.map(async (b) => {
      const ids = Array.from({ length: 100 }, (_, i) => `k${b * 100 + i}`);
      const embeddings = ids.map((_, i) => vecs[b * 100 + i]!);
      const metadatas = ids.map((_, i) => ({ batch: b, even: i % 2 === 0, tag: `t${i % 3}` }));
      const documents = ids.map((id, i) => (i % 4 === 0 ? null : `document of ${id}`));
      const r = await call(h.url, 'POST', '/v1/collections/durable/upsert', { ids, embeddings, metadatas, documents });
      assert.equal(r.status, 200);
      ids.forEach((id, i) => {
        model.set(id, { embedding: embeddings[i]!, metadata: metadatas[i]!, document: documents[i]! });
        everId.add(id);
      });
    }),
  );
  for (let b = 0; b < 5; b++) {
    const ids = Array.from({ length: 50 }, (_, i) => `k${b * 200 + i}`);
    const embeddings = ids.map((_, i) => vecs[2000 + b * 50 + i]!);
    const r = await call(h.url, 'POST', '/v1/collections/durable/upsert', { ids, embeddings });
    assert.equal(r.status, 200);
    ids.forEach((id, i) => model.set(id, { embedding: embeddings[i]!, metadata: null, document: null }));
  }
  const deleted = Array.from({ length: 300 }, (_, i) => `k${i * 6}`);
  const d = await call<{ deleted: number }>(h.url, 'POST', '/v1/collections/durable/delete', { ids: deleted });
  assert.equal(d.body.deleted, 300);
  deleted.forEach((id) => model.delete(id));

  await h.kill9();
  const h2 = await start(dataDir);
  assertSameState(await readAll(h2, 'durable', [...everId]), model, 'after kill -9 and restart');
  const { name, dimension, metric, count } = (await call(h2.url, 'GET', '/v1/collections/durable')).body as Record<string, unknown>;
  assert.deepEqual({ name, dimension, metric, count }, { name: 'durable', dimension: DIM, metric: 'ip', count: model.size });

  // Writes racing the kill: whatever was acknowledged must survive.
  const acked: string[] = [];
  let stop = false;
  const writers = Array.from({ length: 4 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const id = `race-${w}-${i}`;
      const r = await call(h2.url, 'POST', '/v1/collections/durable/upsert', { ids: [id], embeddings: [vecs[i % 3000]!] }).catch(() => null);
      if (r?.status === 200) {
        acked.push(id);
        model.set(id, { embedding: vecs[i % 3000]!, metadata: null, document: null });
      } else return;
    }
  });
  while (acked.length < 200) await new Promise((r) => setTimeout(r, 5));
  await h2.kill9();
  stop = true;
  await Promise.all(writers);
  const h3 = await start(dataDir);
  const racedBack = await readAll(h3, 'durable', acked);
  for (const id of acked) assert.ok(racedBack.has(id), `acknowledged ${id} lost`);
  // Unacknowledged in-flight writes may or may not have landed; keep the model exact.
  const extra = await call<{ count: number }>(h3.url, 'GET', '/v1/collections/durable/count');
  const raceIds = new Set(acked);
  const inFlight = extra.body.count - model.size;
  assert.ok(inFlight >= 0 && inFlight <= 4, `at most one in-flight write per writer may land, got ${inFlight}`);
  if (inFlight > 0) {
    for (let w = 0; w < 4; w++) {
      for (let i = 0; ; i++) {
        const id = `race-${w}-${i}`;
        if (raceIds.has(id)) continue;
        const g = await readAll(h3, 'durable', [id]);
        if (g.size) model.set(id, g.get(id)!);
        break;
      }
    }
  }
  assertSameState(await readAll(h3, 'durable', [...everId, ...model.keys()]), model, 'after racing kill -9');

  // Graceful stop flushes the write-behind queue: Chroma then holds exactly this state.
  assert.equal(await h3.stop(), 0);
  const u = new URL(engines.chroma.url);
  const client = new ChromaClient({ host: u.hostname, port: Number(u.port) });
  const col = await client.getCollection({ name: 'hotvec_durable', embeddingFunction: null as never });
  assert.equal(await col.count(), model.size);
  const got = new Map<string, Rec>();
  for (let offset = 0; ; offset += 1000) {
    const page = await col.get({ limit: 1000, offset, include: ['embeddings', 'metadatas', 'documents'] as never });
    page.ids.forEach((id, i) => got.set(id, { embedding: Array.from(page.embeddings[i] as number[], Math.fround), metadata: (page.metadatas[i] as Rec['metadata']) ?? null, document: (page.documents[i] as string | null) ?? null }));
    if (page.ids.length < 1000) break;
  }
  assertSameState(got, model, 'Chroma after graceful stop');
});

test('an empty data folder hydrates from Chroma', async () => {
  const fresh = await engines.dataDir();
  const h = await start(fresh);
  const { name, dimension, metric, count } = (await call(h.url, 'GET', '/v1/collections/durable')).body as Record<string, unknown>;
  assert.deepEqual({ name, dimension, metric, count }, { name: 'durable', dimension: DIM, metric: 'ip', count: model.size });
  assertSameState(await readAll(h, 'durable', [...everId, ...model.keys()]), model, 'hydrated');
  const cosBack = await readAll(h, 'durable-cos', cosModel.map((_, i) => `c${i}`));
  assert.equal(cosBack.size, cosModel.length);
  cosModel.forEach((v, i) => v.forEach((x, j) => assert.ok(Math.abs(cosBack.get(`c${i}`)!.embedding[j]! - x) <= 1e-6 * Math.max(1, Math.abs(x)), `cosine c${i}[${j}]`)));
  const q = await call<{ ids: string[][] }>(h.url, 'POST', '/v1/collections/durable/query', { embeddings: [model.values().next().value!.embedding], k: 1 });
  assert.equal(q.body.ids[0]!.length, 1);
  await h.stop();
});

test('hydration leaves out, and reports, a record in Chroma whose id the index cannot keep', async () => {
  const dir = await engines.dataDir();
  const h = await start(dir);
  assert.equal((await call(h.url, 'POST', '/v1/collections', { name: 'long-ids', dimension: 3 })).status, 201);
  assert.equal((await call(h.url, 'POST', '/v1/collections/long-ids/upsert', { ids: ['a', 'b'], embeddings: [[1, 0, 0], [0, 1, 0]] })).status, 200);
  assert.equal(await h.stop(), 0);
  // Written around hotvec: Chroma takes an id of 3,500 bytes, hotvec's store keeps at most 3,072.
  const u = new URL(engines.chroma.url);
  const client = new ChromaClient({ host: u.hostname, port: Number(u.port) });
  const col = await client.getCollection({ name: 'hotvec_long-ids', embeddingFunction: null as never });
  const long = 'x'.repeat(3500);
  await col.add({ ids: [long], embeddings: [[0, 0, 1]] });
  assert.equal(await col.count(), 3);

  const h2 = await start(await engines.dataDir());
  const info = (await call<{ count: number }>(h2.url, 'GET', '/v1/collections/long-ids')).body;
  assert.equal(info.count, 2);
  const q = await call<{ ids: string[][] }>(h2.url, 'POST', '/v1/collections/long-ids/query', { embeddings: [[0, 0, 1]], k: 3 });
  assert.deepEqual(q.body.ids[0]!.slice().sort(), ['a', 'b']);
  const warned = h2.logs.filter((l) => /long-ids\\": 1 record\(s\) in Chroma left out of the index/.test(l));
  assert.equal(warned.length, 1, h2.logs.join('\n'));
  assert.match(h2.logs.find((l) => /recovery done/.test(l))!, /"skippedRecords":1\b/);
  await h2.stop();
});

test('an upsert the arena cannot hold is refused with 507 before it reaches the WAL: a restart and Chroma have exactly the acknowledged records', async () => {
  const DIMS = 4096; // 16 MiB chunks: a 64 MiB arena holds a few thousand records
  const args = ['--max-index-bytes', String(64 * 1024 * 1024)];
  const dir = await engines.dataDir();
  const h = await engines.start(dir, { args });
  assert.equal((await call(h.url, 'POST', '/v1/collections', { name: 'full', dimension: DIMS })).status, 201);
  let acked = 0;
  let refused: string[] | undefined;
  for (let b = 0; b < 40 && !refused; b++) {
    const ids = Array.from({ length: 500 }, (_, i) => `full-${b}-${i}`);
    const r = await callMsgpack<{ error?: { code: string } }>(h.url, '/v1/collections/full/upsert', { ids, embeddings: new Uint8Array(new Float32Array(500 * DIMS).fill(b + 1).buffer) });
    if (r.status === 200) acked += ids.length;
    else {
      assert.equal(r.status, 507, JSON.stringify(r.body));
      assert.equal(r.body.error?.code, 'HOTVEC_INDEX_FULL');
      refused = ids;
    }
  }
  assert.ok(refused && acked > 0, `${acked} acknowledged, then a refusal`);
  const count = async (hv: Hotvec): Promise<number> => (await call<{ count: number }>(hv.url, 'GET', '/v1/collections/full')).body.count;
  assert.equal(await count(h), acked);
  assert.equal(await h.stop(), 0); // flushes the write-behind to Chroma
  const again = await engines.start(dir, { args });
  assert.equal(await count(again), acked, 'the WAL replays no part of the refused batch');
  const got = await call<{ ids: string[] }>(again.url, 'POST', '/v1/collections/full/get', { ids: refused.slice(0, 20) });
  assert.deepEqual(got.body.ids, []);
  await again.stop();
  const u = new URL(engines.chroma.url);
  const client = new ChromaClient({ host: u.hostname, port: Number(u.port) });
  assert.equal(await (await client.getCollection({ name: 'hotvec_full', embeddingFunction: null as never })).count(), acked, 'Chroma has exactly the acknowledged records');
});

test('a client that leaves half-way through a body does not hold the graceful stop, and is left out of the metrics', async () => {
  const hv = await engines.start(await engines.dataDir(), { args: ['--shutdown-timeout-ms', '3000'] });
  await call(hv.url, 'POST', '/v1/collections', { name: 'gone', dimension: 3 });
  const { connect } = await import('node:net');
  const socket = connect(hv.port, '127.0.0.1');
  await new Promise<void>((r) => socket.once('connect', () => r()));
  // A head promising 10,000 bytes, 100 of them, then the client goes.
  socket.write(`POST /v1/collections/gone/query HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n${' '.repeat(100)}`);
  await new Promise((r) => setTimeout(r, 200));
  socket.destroy();
  await new Promise((r) => setTimeout(r, 200));
  const metrics = await (await fetch(`${hv.url}/metrics`)).text();
  assert.doesNotMatch(metrics, /status="499"/);
  assert.equal(await hv.stop(), 0);
  // Had the request stayed in flight, the stop would have waited out its timeout and said so.
  assert.deepEqual(
    hv.logs.filter((l) => /did not finish/.test(l)),
    [],
  );
});
