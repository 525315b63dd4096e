/**
 * Coordinated-omission correction, against a tiny HTTP server that stalls once: in the open
 * model the requests that should have left during the stall queue behind it, and their latency,
 * measured from their intended send times, includes the wait; the service time measured from
 * the actual send does not. Also checks that the HTTP driver paces (the server does not see a
 * burst) and that the WebSocket driver matches answers to requests.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Packr } from 'msgpackr';
import { WebSocketServer } from 'ws';
import { runLoad } from '../../load-tests/lib/run.js';
import { Workload } from '../../load-tests/lib/scenarios.js';

const STALL_MS = 500;
const STALL_AT = 40; // the 40th request is held for STALL_MS

let server: Server;
let url: string;
let arrivals: number[] = [];
let stallNext = STALL_AT;

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.push(performance.now());
      const answer = (): void => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ids":[[]]}');
      };
      if (arrivals.length === stallNext) setTimeout(answer, STALL_MS);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

const workload = (): Workload =>
  new Workload({ scenario: 'query', readRatio: 1, collection: 'c', dim: 4, n: 10, k: 3, batch: 1, encoding: 'json', seed: 1, queryPool: 0 });

test('a stall is charged to every request queued behind it (open model, one connection)', async () => {
  arrivals = [];
  stallNext = STALL_AT;
  const rate = 200;
  const r = await runLoad(workload(), { url, transport: 'http', rate, durationS: 2, connections: 1, inflight: 1, drainTimeoutS: 10 });
  const q = r.byOp.query!;
  assert.equal(r.sent, 400);
  assert.equal(q.ok, 400);
  assert.equal(q.errors + q.non2xx, 0);
  // Requests intended in the first STALL_MS/2 of the stall cannot be answered before it ends, so
  // at least (STALL_MS / 2) × rate / 1000 = 50 of 400 (12.5%) waited ≥ 250 ms: the 90th
  // percentile must show it.
  const p90 = q.spectrum.find(([p]) => p === 90)![1];
  assert.ok(p90 >= STALL_MS / 2, `corrected p90 ${p90} ms should include the stall`);
  assert.ok(q.latencyMs.max >= STALL_MS, `corrected max ${q.latencyMs.max} ms`);
  // Only one request was itself slow: the service time barely sees the stall.
  assert.ok(q.serviceMs.p95 < STALL_MS / 2, `service p95 ${q.serviceMs.p95} ms should not include the queueing`);
  assert.ok(q.serviceMs.max >= STALL_MS, 'the stalled request itself');
});

test('the HTTP driver spreads requests over the run instead of bursting', async () => {
  arrivals = [];
  stallNext = -1;
  const r = await runLoad(workload(), { url, transport: 'http', rate: 100, durationS: 1, connections: 4, inflight: 1, drainTimeoutS: 10 });
  assert.equal(r.byOp.query!.ok, 100);
  assert.equal(arrivals.length, 100);
  // Evenly spaced, ~25 arrive in the first 250 ms; autocannon's own overallRate would send all
  // 100 at the start of the second.
  const first = arrivals[0]!;
  const early = arrivals.filter((t) => t - first < 250).length;
  assert.ok(early <= 50, `${early} of 100 requests arrived in the first 250 ms`);
});

test('closed model keeps every connection busy and stops at the duration', async () => {
  arrivals = [];
  stallNext = -1;
  const r = await runLoad(workload(), { url, transport: 'http', rate: 0, durationS: 0.5, connections: 2, inflight: 1, drainTimeoutS: 10 });
  assert.equal(r.model, 'closed');
  assert.ok(r.byOp.query!.ok > 10, `only ${r.byOp.query!.ok} requests in a closed-loop half second`);
  assert.equal(r.byOp.query!.ok, arrivals.length, 'every request the server saw was answered and counted');
});

test('WebSocket driver: msgpack binary frames, answers matched by id, paced in the open model', async () => {
  const packr = new Packr({ useRecords: false });
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/v1/ws' });
  await new Promise((r) => wss.once('listening', r));
  const frames: { op: string; collection: string; bytes: number; k: number }[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer, isBinary) => {
      assert.ok(isBinary, 'requests go as binary frames');
      const m = packr.unpack(data) as { id: number; op: string; collection: string; embeddings: Uint8Array; k: number };
      frames.push({ op: m.op, collection: m.collection, bytes: m.embeddings.byteLength, k: m.k });
      // Answer out of order now and then: ids, not order, pair them.
      const answer = (): void => ws.send(packr.pack({ id: m.id, result: { ids: [[]] } }), { binary: true });
      if (m.id % 3 === 0) setTimeout(answer, 5);
      else answer();
    });
  });
  try {
    const port = (wss.address() as AddressInfo).port;
    const r = await runLoad(workload(), { url: `http://127.0.0.1:${port}`, transport: 'ws', rate: 150, durationS: 1, connections: 2, inflight: 1, drainTimeoutS: 10 });
    assert.equal(r.byOp.query!.ok, 150);
    assert.equal(r.byOp.query!.errors + r.byOp.query!.non2xx, 0);
    assert.equal(frames.length, 150);
    assert.ok(frames.every((f) => f.op === 'query' && f.collection === 'c' && f.bytes === 4 * 4 && f.k === 3), 'one float32 vector per query');
  } finally {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  }
});
