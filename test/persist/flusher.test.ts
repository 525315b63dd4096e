/**
 * WriteBehindFlusher into a real Chroma. Where a fault is needed, a thin wrapper fails
 * chosen calls and passes every other one to the real ChromaTier, so the data always lands
 * in Chroma and the assertions read it back from there.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HotvecError } from '../../src/errors.js';
import { ChromaTier, type ChromaBatch } from '../../src/persist/chroma-tier.js';
import { WriteBehindFlusher, type BatchEvent, type FlusherOptions, type FlusherState, type FlusherTier, type RetryEvent } from '../../src/persist/flusher.js';
import type { Metadata, Metric, WriteOp } from '../../src/persist/ops.js';
import { startTestChroma, uniqueCollectionName, type TestChroma } from '../helpers/chroma.js';

interface Rec {
  vector: number[];
  metadata: Metadata | null;
  document: string | null;
}

type TierCall =
  | { t: 'create'; name: string; dimension: number; metric: Metric }
  | { t: 'drop'; name: string }
  | { t: 'apply'; name: string; batch: ChromaBatch };

/** Records every call and can fail the next few of a kind; otherwise the real tier does the work. */
class TierProbe implements FlusherTier {
  readonly calls: TierCall[] = [];
  failures: { kind: TierCall['t']; left: number } | undefined;
  constructor(private readonly tier: ChromaTier) {}

  #maybeFail(kind: TierCall['t']): void {
    if (this.failures?.kind === kind && this.failures.left > 0) {
      this.failures.left--;
      throw new HotvecError('CHROMA_UNAVAILABLE', `injected ${kind} failure`);
    }
  }

  async createCollection(name: string, p: { dimension: number; metric: Metric }): Promise<void> {
    this.#maybeFail('create');
    this.calls.push({ t: 'create', name, ...p });
    await this.tier.createCollection(name, p);
  }

  async dropCollection(name: string): Promise<void> {
    this.#maybeFail('drop');
    this.calls.push({ t: 'drop', name });
    await this.tier.dropCollection(name);
  }

  async applyBatch(name: string, batch: ChromaBatch): Promise<void> {
    this.#maybeFail('apply');
    this.calls.push({ t: 'apply', name, batch });
    await this.tier.applyBatch(name, batch);
  }
}

/** hotvec's side: applies ops to a map, the state Chroma must end up in. */
class Model {
  readonly collections = new Map<string, { dimension: number; records: Map<string, Rec> }>();

  apply(op: WriteOp): void {
    switch (op.t) {
      case 'create':
        this.collections.set(op.collection, { dimension: op.dimension, records: new Map() });
        return;
      case 'drop':
        this.collections.delete(op.collection);
        return;
      case 'delete':
        for (const id of op.ids) this.collections.get(op.collection)!.records.delete(id);
        return;
      case 'upsert': {
        const c = this.collections.get(op.collection)!;
        const dim = op.embeddings.length / op.ids.length;
        op.ids.forEach((id, i) => c.records.set(id, {
          vector: [...op.embeddings.subarray(i * dim, (i + 1) * dim)],
          metadata: op.metadatas?.[i] ?? null,
          document: op.documents?.[i] ?? null,
        }));
      }
    }
  }
}

/** Deterministic random numbers, so a failure can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let chroma: TestChroma;
let tier: ChromaTier;
const flushers: WriteBehindFlusher[] = [];

before(async () => {
  chroma = await startTestChroma();
  tier = new ChromaTier({ url: chroma.url });
});
after(async () => {
  for (const f of flushers) f.destroy();
  await chroma?.close();
});

function makeFlusher(opts: Partial<FlusherOptions> & Pick<FlusherOptions, 'tier'>, checkpoints: number[] = []): WriteBehindFlusher {
  const f = new WriteBehindFlusher({
    intervalMs: 5,
    retry: { initialMs: 10, maxMs: 50 },
    onCheckpoint: async (seq) => {
      checkpoints.push(seq);
    },
    ...opts,
  });
  flushers.push(f);
  return f;
}

async function chromaContents(t: ChromaTier, name: string, dimension: number): Promise<Map<string, Rec>> {
  const out = new Map<string, Rec>();
  for await (const page of t.scan(name, 500)) {
    page.ids.forEach((id, i) => out.set(id, {
      vector: [...page.embeddings.subarray(i * dimension, (i + 1) * dimension)],
      metadata: page.metadatas[i] ?? null,
      document: page.documents[i] ?? null,
    }));
  }
  return out;
}

async function assertChromaMatches(t: ChromaTier, model: Model, names: string[]): Promise<void> {
  const listed = new Map((await t.listCollections()).map((c) => [c.name, c]));
  for (const name of names) {
    const expected = model.collections.get(name);
    if (!expected) {
      assert.ok(!listed.has(name), `${name} should have been dropped`);
      continue;
    }
    assert.equal(listed.get(name)?.dimension, expected.dimension, `${name} dimension`);
    assert.deepEqual(await chromaContents(t, name, expected.dimension), expected.records, `${name} contents`);
  }
}

function upsert(seq: number, collection: string, ids: string[], dim: number, fill: (i: number, j: number) => number, extra: Partial<WriteOp> = {}): WriteOp {
  const embeddings = new Float32Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) for (let j = 0; j < dim; j++) embeddings[i * dim + j] = fill(i, j);
  return { t: 'upsert', seq, collection, ids, embeddings, ...extra } as WriteOp;
}

describe('WriteBehindFlusher', () => {
  it('coalesces overlapping upserts, deletes, drops and re-creates into a Chroma that equals the model', async () => {
    const rand = prng(20261124);
    const probe = new TierProbe(tier);
    const checkpoints: number[] = [];
    const flusher = makeFlusher({ tier: probe, maxBatchRecords: 150 }, checkpoints);
    const batches: BatchEvent[] = [];
    flusher.on('batch', (b: BatchEvent) => batches.push(b));
    const model = new Model();
    const names = [uniqueCollectionName('co'), uniqueCollectionName('co')];
    const dims = new Map(names.map((n) => [n, 4]));
    let seq = 0;
    const ops: WriteOp[] = [];
    const emit = (op: WriteOp): void => {
      ops.push(op);
      model.apply(op);
      flusher.enqueue(op);
    };
    for (const name of names) emit({ t: 'create', seq: ++seq, collection: name, dimension: 4, metric: 'l2' });

    const pool = Array.from({ length: 40 }, (_, i) => `id${i}`);
    const pick = (max: number): string[] => {
      const n = 1 + Math.floor(rand() * max);
      return [...new Set(Array.from({ length: n }, () => pool[Math.floor(rand() * pool.length)]!))];
    };
    for (let k = 0; k < 400; k++) {
      const name = names[Math.floor(rand() * names.length)]!;
      const r = rand();
      if (r < 0.02 && name === names[1]) {
        // Drop and re-create with another dimension: earlier records must not come back.
        const dim = dims.get(name) === 4 ? 3 : 4;
        dims.set(name, dim);
        emit({ t: 'drop', seq: ++seq, collection: name });
        emit({ t: 'create', seq: ++seq, collection: name, dimension: dim, metric: 'l2' });
      } else if (r < 0.3) {
        emit({ t: 'delete', seq: ++seq, collection: name, ids: pick(8) });
      } else {
        const ids = pick(12);
        const dim = dims.get(name)!;
        const withMeta = rand() < 0.6;
        const withDocs = rand() < 0.4;
        emit(upsert(++seq, name, ids, dim, () => Math.fround(rand() * 2 - 1), {
          ...(withMeta ? { metadatas: ids.map((): Metadata | null => (rand() < 0.3 ? null : { k: k, [`key${k % 3}`]: rand() < 0.5 ? 'x' : 7 })) } : {}),
          ...(withDocs ? { documents: ids.map((id) => (rand() < 0.3 ? null : `doc ${id} @${k}`)) } : {}),
        }));
      }
      // Durability arrives in uneven steps, as WAL syncs do.
      if (rand() < 0.2) flusher.markDurable(seq);
    }
    flusher.markDurable(seq);
    assert.equal(await flusher.flush(60_000), true);

    await assertChromaMatches(tier, model, names);
    assert.equal(flusher.confirmedSeq, seq);
    assert.deepEqual(flusher.lag(), { ops: 0, records: 0, oldestAgeMs: 0 });
    assert.equal(flusher.state, 'healthy');
    // Checkpoints only move forward and end at the last op.
    assert.ok(checkpoints.every((s, i) => i === 0 || s > checkpoints[i - 1]!), `checkpoints not increasing: ${checkpoints}`);
    assert.equal(checkpoints.at(-1), seq);
    assert.equal(batches.reduce((n, b) => n + b.ops, 0), ops.length);
    // Coalescing happened, and each applyBatch is well formed.
    const applies = probe.calls.filter((c): c is Extract<TierCall, { t: 'apply' }> => c.t === 'apply');
    const dataOps = ops.filter((o) => o.t === 'upsert' || o.t === 'delete').length;
    assert.ok(applies.length < dataOps / 2, `${applies.length} applyBatch calls for ${dataOps} ops`);
    for (const { batch } of applies) {
      assert.equal(new Set(batch.deleteIds).size, batch.deleteIds.length, 'deleteIds has duplicates');
      const touched = new Set(batch.deleteIds);
      assert.ok(batch.upserts.ids.every((id) => touched.has(id)), 'an upserted id was not deleted first');
      assert.ok(batch.deleteIds.length <= 150 || batch.upserts.ids.length <= 150);
    }
    await flusher.close(1000);
  });

  it('sends nothing past markDurable', async () => {
    const probe = new TierProbe(tier);
    const checkpoints: number[] = [];
    const flusher = makeFlusher({ tier: probe }, checkpoints);
    const name = uniqueCollectionName('dur');
    const model = new Model();
    const ops: WriteOp[] = [
      { t: 'create', seq: 1, collection: name, dimension: 2, metric: 'l2' },
      ...[2, 3, 4, 5, 6].map((s) => upsert(s, name, [`r${s}`, 'shared'], 2, (i, j) => s * 10 + i + j / 10)),
    ];
    for (const op of ops) flusher.enqueue(op);

    // Nothing durable: nothing to wait for, nothing sent.
    assert.equal(await flusher.flush(5000), true);
    assert.equal(probe.calls.length, 0);
    assert.equal(flusher.lag().ops, 6);

    flusher.markDurable(3);
    assert.equal(await flusher.flush(30_000), true);
    for (const op of ops.slice(0, 3)) model.apply(op);
    await assertChromaMatches(tier, model, [name]);
    const sentIds = probe.calls.flatMap((c) => (c.t === 'apply' ? c.batch.deleteIds : []));
    assert.ok(!sentIds.some((id) => ['r4', 'r5', 'r6'].includes(id)), `sent ids past the durable mark: ${sentIds}`);
    assert.equal(checkpoints.at(-1), 3);
    assert.equal(flusher.confirmedSeq, 3);
    assert.equal(flusher.lag().ops, 3);
    assert.equal(flusher.lag().records, 6);

    flusher.markDurable(6);
    assert.equal(await flusher.flush(30_000), true);
    for (const op of ops.slice(3)) model.apply(op);
    await assertChromaMatches(tier, model, [name]);
    assert.equal(checkpoints.at(-1), 6);
    await flusher.close(1000);
  });

  it('retries a failing batch with backoff, resumes at the failed call, and goes down and back to healthy', async () => {
    const probe = new TierProbe(tier);
    const checkpoints: number[] = [];
    const flusher = makeFlusher({ tier: probe, downAfterFailures: 3 }, checkpoints);
    const states: FlusherState[] = [];
    const retries: RetryEvent[] = [];
    flusher.on('state', (s: FlusherState) => states.push(s));
    flusher.on('retry', (r: RetryEvent) => retries.push(r));
    const name = uniqueCollectionName('retry');
    const model = new Model();
    probe.failures = { kind: 'apply', left: 4 };
    const ops: WriteOp[] = [
      { t: 'create', seq: 1, collection: name, dimension: 3, metric: 'l2' },
      upsert(2, name, ['a', 'b'], 3, (i, j) => i + j + 1, { metadatas: [{ v: 1 }, null] }),
      { t: 'delete', seq: 3, collection: name, ids: ['b'] },
    ];
    for (const op of ops) {
      flusher.enqueue(op);
      model.apply(op);
    }
    flusher.markDurable(3);
    assert.equal(await flusher.flush(30_000), true);

    assert.deepEqual(retries.map((r) => r.attempt), [1, 2, 3, 4]);
    assert.ok(retries.every((r) => r.error instanceof HotvecError && r.delayMs >= 5 && r.delayMs <= 50), JSON.stringify(retries.map((r) => r.delayMs)));
    assert.deepEqual(states, ['retrying', 'down', 'healthy']);
    assert.deepEqual(probe.calls.map((c) => c.t), ['create', 'apply'], 'the create that succeeded must not be repeated');
    assert.deepEqual(checkpoints, [3]);
    await assertChromaMatches(tier, model, [name]);
    await flusher.close(1000);
  });

  it('retries the checkpoint without re-sending the batch', async () => {
    const probe = new TierProbe(tier);
    const checkpoints: number[] = [];
    let failCheckpoint = true;
    const flusher = makeFlusher({
      tier: probe,
      onCheckpoint: async (seq) => {
        checkpoints.push(seq);
        if (failCheckpoint) {
          failCheckpoint = false;
          throw new Error('disk full');
        }
      },
    });
    const name = uniqueCollectionName('cp');
    flusher.enqueue({ t: 'create', seq: 10, collection: name, dimension: 2, metric: 'l2' });
    flusher.enqueue(upsert(11, name, ['x'], 2, () => 1));
    const retried = once(flusher, 'retry');
    flusher.markDurable(11);
    const [r] = (await retried) as [RetryEvent];
    assert.match(String(r.error), /disk full/);
    assert.equal(await flusher.flush(30_000), true);
    assert.deepEqual(checkpoints, [11, 11]);
    assert.deepEqual(probe.calls.map((c) => c.t), ['create', 'apply']);
    assert.equal(flusher.confirmedSeq, 11);
    await flusher.close(1000);
  });

  it('recovers when Chroma goes away and comes back on the same folder and port', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'hotvec-flusher-outage-'));
    let own: TestChroma | undefined = await startTestChroma({ dataDir });
    const port = own.port;
    try {
      const ownTier = new ChromaTier({ url: own.url });
      const flusher = makeFlusher({ tier: ownTier, downAfterFailures: 2, retry: { initialMs: 20, maxMs: 200 } });
      const states: FlusherState[] = [];
      flusher.on('state', (s: FlusherState) => states.push(s));
      const name = uniqueCollectionName('outage');
      const model = new Model();
      let seq = 0;
      const write = (op: WriteOp): void => {
        flusher.enqueue(op);
        model.apply(op);
        flusher.markDurable(op.seq);
      };
      write({ t: 'create', seq: ++seq, collection: name, dimension: 2, metric: 'l2' });
      write(upsert(++seq, name, ['before1', 'before2'], 2, (i) => i));
      assert.equal(await flusher.flush(30_000), true);

      await own.close();
      own = undefined;
      const down = new Promise<void>((r) => flusher.on('state', (s: FlusherState) => s === 'down' && r()));
      write(upsert(++seq, name, ['during', 'before1'], 2, (i) => 5 + i, { documents: ['d', null] }));
      write({ t: 'delete', seq: ++seq, collection: name, ids: ['before2'] });
      await down;
      assert.equal(flusher.lag().ops, 2);
      assert.equal(flusher.confirmedSeq, 2);

      own = await startTestChroma({ dataDir, port });
      assert.equal(await flusher.flush(60_000), true);
      assert.equal(flusher.state, 'healthy');
      assert.deepEqual(states, ['retrying', 'down', 'healthy']);
      await assertChromaMatches(ownTier, model, [name]);
      await flusher.close(1000);
    } finally {
      await own?.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('sends an op larger than maxBatchRecords alone and whole', async () => {
    const probe = new TierProbe(tier);
    const flusher = makeFlusher({ tier: probe, maxBatchRecords: 10 });
    const name = uniqueCollectionName('big');
    const ids = Array.from({ length: 25 }, (_, i) => `b${i}`);
    flusher.enqueue({ t: 'create', seq: 1, collection: name, dimension: 2, metric: 'l2' });
    flusher.enqueue(upsert(2, name, ids, 2, (i, j) => i * 2 + j));
    flusher.enqueue(upsert(3, name, ['after'], 2, () => 0));
    flusher.markDurable(3);
    assert.equal(await flusher.flush(30_000), true);
    const applies = probe.calls.filter((c) => c.t === 'apply');
    assert.deepEqual(applies.map((c) => (c.t === 'apply' ? c.batch.upserts.ids.length : 0)), [25, 1]);
    assert.equal(await tier.count(name), 26);
    await flusher.close(1000);
  });

  it('close() drains then refuses ops; destroy() fails pending flushes', async () => {
    const probe = new TierProbe(tier);
    const flusher = makeFlusher({ tier: probe });
    const name = uniqueCollectionName('close');
    flusher.enqueue({ t: 'create', seq: 1, collection: name, dimension: 2, metric: 'l2' });
    flusher.enqueue(upsert(2, name, ['z'], 2, () => 3));
    flusher.markDurable(2);
    const closing = flusher.close(30_000);
    assert.equal(flusher.close(30_000), closing, 'close() is idempotent');
    assert.equal(await closing, true);
    assert.equal(await tier.count(name), 1);
    assert.throws(() => flusher.enqueue(upsert(3, name, ['y'], 2, () => 1)), (err: unknown) => err instanceof HotvecError && err.code === 'HOTVEC_NOT_READY');

    // A flusher whose Chroma never answers: destroy() ends a pending flush with false.
    const stuck = makeFlusher({ tier: new ChromaTier({ url: 'http://127.0.0.1:9' }), retry: { initialMs: 1000, maxMs: 1000 } });
    stuck.enqueue({ t: 'create', seq: 1, collection: name, dimension: 2, metric: 'l2' });
    stuck.markDurable(1);
    const pending = stuck.flush(60_000);
    stuck.destroy();
    assert.equal(await pending, false);
    assert.equal(await stuck.close(1000), false);
  });

  it('rejects ops out of seq order and validates its options', () => {
    const flusher = makeFlusher({ tier: new TierProbe(tier) });
    flusher.enqueue({ t: 'drop', seq: 5, collection: 'x' });
    assert.throws(() => flusher.enqueue({ t: 'drop', seq: 5, collection: 'x' }), /increasing seq order/);
    const base = { tier: new TierProbe(tier), onCheckpoint: async () => {} };
    const cases: [Partial<FlusherOptions>, RegExp][] = [
      [{ maxBatchRecords: 0 }, /maxBatchRecords must be an integer >= 1/],
      [{ intervalMs: -1 }, /intervalMs must be >= 0/],
      [{ retry: { initialMs: 0 } }, /retry.initialMs must be > 0/],
      [{ retry: { initialMs: 100, maxMs: 50 } }, /retry.maxMs must be >= retry.initialMs/],
      [{ downAfterFailures: 0 }, /downAfterFailures must be an integer >= 1/],
      [{ confirmedSeq: -1 }, /confirmedSeq must be a non-negative integer/],
    ];
    for (const [opts, message] of cases) {
      assert.throws(() => new WriteBehindFlusher({ ...base, ...opts }), (err: unknown) => {
        assert.ok(err instanceof HotvecError);
        assert.equal(err.code, 'HOTVEC_INVALID_CONFIG');
        assert.match(err.message, message);
        return true;
      });
    }
  });
});
