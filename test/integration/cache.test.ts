/**
 * The hot-query cache through the real engine process: repeated identical queries after every
 * kind of write (upsert, overwrite, delete, drop, re-create) answer what brute force says, in
 * JSON and msgpack; queries in flight while writes land never leave a stale answer behind;
 * and `--cache-bytes 0` starts an engine without a cache.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { useEngine } from '../helpers/engines.js';
import { call, callMsgpack, randomVectors, removeDir, startHotvec } from '../helpers/hotvec.js';
import { bruteForce, sameNeighbours } from '../helpers/reference.js';

const engine = useEngine();

interface Answer {
  ids: string[][];
  distances: number[][];
  metadatas?: (Record<string, unknown> | null)[][];
  embeddings?: number[][][];
}

const f32 = (v: number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);

/** A collection and the records the test believes it holds. */
class Remote {
  readonly data = new Map<string, number[]>();
  constructor(
    readonly url: string,
    readonly name: string,
    readonly dim: number,
  ) {}

  async create(): Promise<void> {
    this.data.clear();
    assert.equal((await call(this.url, 'POST', '/v1/collections', { name: this.name, dimension: this.dim })).status, 201);
  }

  async upsert(ids: string[], vectors: number[][]): Promise<void> {
    const r = await call(this.url, 'POST', `/v1/collections/${this.name}/upsert`, { ids, embeddings: vectors, metadatas: ids.map((id) => ({ id })) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    ids.forEach((id, i) => this.data.set(id, vectors[i]!));
  }

  async delete(ids: string[]): Promise<void> {
    assert.equal((await call(this.url, 'POST', `/v1/collections/${this.name}/delete`, { ids })).status, 200);
    for (const id of ids) this.data.delete(id);
  }

  /** The same query three times (JSON, JSON, msgpack): each answer equals brute force and the others. */
  async check(q: number[], label: string): Promise<Answer> {
    const body = { embeddings: [q], k: 5, include: ['distances', 'metadatas', 'embeddings'] };
    const answers: Answer[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await call<Answer>(this.url, 'POST', `/v1/collections/${this.name}/query`, body);
      assert.equal(r.status, 200, `${label}: ${JSON.stringify(r.body)}`);
      answers.push(r.body);
    }
    const m = await callMsgpack<Answer>(this.url, `/v1/collections/${this.name}/query`, { ...body, embeddings: f32(q) });
    assert.equal(m.status, 200);
    answers.push(m.body);
    const want = bruteForce('l2', this.data, q, Math.min(5, this.data.size));
    for (const a of answers) {
      const problem = sameNeighbours({ ids: a.ids[0]!, distances: a.distances[0]! }, want);
      assert.equal(problem, null, `${label}: ${problem}`);
      assert.deepEqual(a, answers[0], `${label}: repeated answers agree`);
      a.ids[0]!.forEach((id, i) => {
        assert.deepEqual(a.metadatas![0]![i], { id });
        assert.deepEqual(a.embeddings![0]![i], this.data.get(id)!.map(Math.fround));
      });
    }
    return answers[0]!;
  }
}

test('after every kind of write, repeated identical queries answer the new state', async () => {
  const dim = 8;
  const c = new Remote(engine.hv.url, 'cached', dim);
  await c.create();
  const base = randomVectors(300, dim, 1);
  await c.upsert(base.map((_, i) => `r${i}`), base);
  const q = randomVectors(1, dim, 2)[0]!.map(Math.fround);
  await c.check(q, 'initial');

  await c.upsert(['exact'], [q]);
  assert.equal((await c.check(q, 'upsert of a new id')).ids[0]![0], 'exact');

  await c.upsert(['exact'], [q.map((x) => x + 5)]);
  assert.notEqual((await c.check(q, 'overwrite')).ids[0]![0], 'exact');

  const nearest = (await c.check(q, 'before delete')).ids[0]![0]!;
  await c.delete([nearest]);
  assert.ok(!(await c.check(q, 'delete')).ids[0]!.includes(nearest));

  assert.equal((await call(engine.hv.url, 'DELETE', '/v1/collections/cached')).status, 200);
  assert.equal((await call(engine.hv.url, 'POST', '/v1/collections/cached/query', { embeddings: [q], k: 5 })).status, 404);

  await c.create();
  const other = randomVectors(20, dim, 3);
  await c.upsert(other.map((_, i) => `s${i}`), other);
  assert.ok((await c.check(q, 're-created')).ids[0]!.every((id) => id.startsWith('s')));
});

test('queries in flight while writes land never leave a stale answer cached', async (t) => {
  const dim = 32;
  const c = new Remote(engine.hv.url, 'racing', dim);
  await c.create();
  const base = randomVectors(8000, dim, 10);
  for (let i = 0; i < base.length; i += 2000) await c.upsert(base.slice(i, i + 2000).map((_, j) => `r${i + j}`), base.slice(i, i + 2000));

  const ws = new WebSocket(`${engine.hv.url.replace('http', 'ws')}/v1/ws`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const pending = new Map<string, (a: { result?: Answer; error?: unknown }) => void>();
  ws.on('message', (data: Buffer) => {
    const a = JSON.parse(data.toString()) as { id: string; result?: Answer; error?: unknown };
    pending.get(a.id)?.(a);
    pending.delete(a.id);
  });
  const send = (id: string, msg: object): Promise<{ result?: Answer; error?: unknown }> =>
    new Promise((resolve) => {
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, collection: 'racing', ...msg }));
    });

  // The probe is one request of many query vectors, so its scan takes long enough for a write
  // sent a moment later to land while it runs; its first row is the one the write changes.
  const rows = 150;
  const queries = randomVectors(20, dim, 11).map((v) => v.map(Math.fround));
  const probeOf = (round: number): number[][] => [queries[round]!, ...randomVectors(rows - 1, dim, 1000 + round)];
  const t0 = performance.now();
  await send('measure', { op: 'query', embeddings: randomVectors(rows, dim, 12), k: 3 });
  const scanMs = performance.now() - t0;
  let stale = 0;
  for (let round = 0; round < queries.length; round++) {
    const probe = probeOf(round);
    const inFlight = send(`q${round}`, { op: 'query', embeddings: probe, k: 3 });
    await new Promise((resolve) => setTimeout(resolve, (scanMs / 3) * (round % 3)));
    const ack = await send(`u${round}`, { op: 'upsert', ids: [`exact${round}`], embeddings: [queries[round]] });
    assert.ok(ack.result, `upsert ${round}: ${JSON.stringify(ack.error)}`);
    const first = await inFlight;
    if (!first.result!.ids[0]!.includes(`exact${round}`)) stale++;
    // Acknowledged: the identical request must now see the write, whatever the in-flight one did.
    for (let i = 0; i < 2; i++) {
      const after = await send(`a${round}-${i}`, { op: 'query', embeddings: probe, k: 3 });
      assert.equal(after.result!.ids[0]![0], `exact${round}`, `round ${round}, query ${i} after the acknowledgement`);
      assert.equal(after.result!.distances[0]![0], 0);
    }
  }
  t.diagnostic(`probe scan ${scanMs.toFixed(1)} ms; ${stale} of ${queries.length} in-flight probes were answered from a scan that missed their write`);
  ws.close();
});

test('--cache-bytes 0 starts an engine without a cache that answers the same', async () => {
  const off = await startHotvec({ chromaUrl: engine.chroma.url, args: ['--cache-bytes', '0', '--chroma-prefix', 'nocache_'] });
  try {
    const c = new Remote(off.url, 'plain', 4);
    await c.create();
    const v = randomVectors(50, 4, 20);
    await c.upsert(v.map((_, i) => `r${i}`), v);
    const q = randomVectors(1, 4, 21)[0]!.map(Math.fround);
    await c.check(q, 'uncached');
    await c.upsert(['exact'], [q]);
    assert.equal((await c.check(q, 'after upsert')).ids[0]![0], 'exact');
  } finally {
    await off.stop();
    await removeDir(off.dataDir);
  }
});
