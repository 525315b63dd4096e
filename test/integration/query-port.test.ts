/**
 * The query port (`--query-port`), through the whole engine against a real Chroma: the workers
 * answer queries on it themselves. Its answers must be the main port's (sealed and growing
 * segments, JSON and msgpack), reflect every acknowledged write (including through each
 * worker's own cache), be counted in the main thread's metrics, and refuse what it does not
 * serve with a clear error; a stop with connections open to it must end cleanly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { connect, createServer, type AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { startTestChroma, type TestChroma } from '../helpers/chroma.js';
import { MAIN, call, callMsgpack, packr, randomVectors, removeDir, startHotvec, tempDir, type Hotvec } from '../helpers/hotvec.js';
import { bruteForce } from '../helpers/reference.js';
import { until } from '../helpers/wait.js';
import { FLUSH_MS } from '../../src/query-port/relay.js';
import { parsePrometheus, select } from '../metrics/prometheus-text.js';

const DIM = 16;
const NAME = 'qp';
const ARGS = ['--query-port', '0', '--segment-records', '1024', '--seal-idle-ms', '200', '--seal-min-records', '200', '--cache-admission', 'repeat'];
let chroma: TestChroma;
let hv: Hotvec;
const started: Hotvec[] = [];
const start = async (): Promise<Hotvec> => {
  const h = await startHotvec({ chromaUrl: chroma.url, args: ARGS });
  started.push(h);
  return h;
};
const model = new Map<string, number[]>();
const data = randomVectors(3000, DIM, 7);
/** One connection: every request of it goes to the one worker that accepted it (and its cache). */
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

interface Answer {
  ids: string[][];
  distances: number[][];
}

/** POST over `agent` (one kept-alive connection). */
function post<T>(url: string, path: string, body: unknown): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) as T }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** One request over `agent` (POST of `body` as JSON, else GET), its answer read: the connection stays open in the agent. */
function keptAlive(agent: Agent, url: string, body?: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const options = body === undefined ? { agent } : { method: 'POST', agent, headers: { 'content-type': 'application/json' } };
    const req = request(url, options, (res) => {
      res.resume();
      res.on('end', () => resolve());
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const { samples } = parsePrometheus(await (await fetch(`${hv.url}/metrics`)).text());
  return select(samples, name, labels).reduce((a, s) => a + s.value, 0);
}

/** The metric once the workers' latest batches are in: two reads a flush interval and more apart agree. */
async function settledMetric(name: string, labels: Record<string, string>): Promise<number> {
  let last = await metric(name, labels);
  for (;;) {
    await new Promise((r) => setTimeout(r, 3 * FLUSH_MS));
    const now = await metric(name, labels);
    if (now === last) return now;
    last = now;
  }
}

before(async () => {
  chroma = await startTestChroma();
  hv = await start();
  assert.ok(hv.queryUrl, 'the listening line names the query port');
  assert.equal((await call(hv.url, 'POST', '/v1/collections', { name: NAME, dimension: DIM, metric: 'l2' })).status, 201);
  const ids = data.map((_, i) => `r${i}`);
  for (let i = 0; i < ids.length; i += 500) {
    const r = await call(hv.url, 'POST', `/v1/collections/${NAME}/upsert`, { ids: ids.slice(i, i + 500), embeddings: data.slice(i, i + 500) });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  ids.forEach((id, i) => model.set(id, data[i]!));
  // Sealed segments (graphs) beside the growing one.
  const sealed = await until(async () => {
    const d = (await call<{ segments: { phase: string }[]; indexing: boolean }>(hv.url, 'GET', `/v1/collections/${NAME}`)).body;
    return !d.indexing && d.segments.some((s) => s.phase === 'sealed') && !d.segments.some((s) => s.phase === 'frozen');
  }, 60_000, 100);
  assert.ok(sealed, 'segments were sealed');
});

after(async () => {
  agent.destroy();
  for (const h of started) {
    await h.kill9();
    await removeDir(h.dataDir);
  }
  await chroma?.close();
});

test('the query port answers as the main port does, over sealed and growing segments, in JSON and msgpack', async () => {
  const queries = randomVectors(20, DIM, 99);
  for (const [i, q] of queries.entries()) {
    const body = { embeddings: [q], k: 10, ...(i % 2 ? { ef: 200 } : {}) };
    const main = await call<Answer>(hv.url, 'POST', `/v1/collections/${NAME}/query`, body);
    const port = await call<Answer>(hv.queryUrl!, 'POST', `/v1/collections/${NAME}/query`, body);
    assert.equal(port.status, 200, JSON.stringify(port.body));
    assert.deepEqual(port.body, main.body, `query ${i}`);
  }
  // Exact: against brute force over the model.
  const q = queries[0]!;
  const exact = await call<Answer>(hv.queryUrl!, 'POST', `/v1/collections/${NAME}/query`, { embeddings: [q], k: 5, exact: true });
  const want = bruteForce('l2', model, q, 5);
  assert.deepEqual(exact.body.ids[0], want.map((w) => w.id));
  exact.body.distances[0]!.forEach((d, j) => assert.ok(Math.abs(d - want[j]!.d) < 1e-4, `distance ${j}`));
  const packed = await callMsgpack<Answer>(hv.queryUrl!, `/v1/collections/${NAME}/query`, { embeddings: new Uint8Array(new Float32Array(q).buffer), k: 5, exact: true });
  assert.equal(packed.status, 200, JSON.stringify(packed.body));
  assert.deepEqual(packed.body.ids, exact.body.ids);
});

test('every acknowledged write shows on the query port at once, through its cache: upsert, overwrite, delete, drop and re-create', async () => {
  const q = randomVectors(1, DIM, 1234)[0]!;
  const path = `/v1/collections/${NAME}/query`;
  const hitsBefore = await metric('hotvec_cache_hits_total');
  const first = await post<Answer>(hv.queryUrl!, path, { embeddings: [q], k: 3 });
  assert.equal(first.status, 200);
  // Seen, then kept (admission "repeat"), then a hit — all on one connection, so in one worker.
  for (let i = 0; i < 2; i++) assert.deepEqual((await post<Answer>(hv.queryUrl!, path, { embeddings: [q], k: 3 })).body, first.body);
  assert.ok(await until(async () => (await metric('hotvec_cache_hits_total')) > hitsBefore), "the worker's cache answered, and its count reached /metrics");

  const upsert = async (ids: string[], embeddings: number[][]): Promise<void> =>
    assert.equal((await call(hv.url, 'POST', `/v1/collections/${NAME}/upsert`, { ids, embeddings })).status, 200);
  const ask = async (): Promise<Answer> => (await post<Answer>(hv.queryUrl!, path, { embeddings: [q], k: 3 })).body;

  await upsert(['fresh'], [q]);
  assert.deepEqual([(await ask()).ids[0]![0], (await ask()).distances[0]![0]], ['fresh', 0], 'an upsert');
  const far = q.map((x) => x + 50);
  await upsert(['fresh'], [far]);
  assert.ok(!(await ask()).ids[0]!.includes('fresh'), 'an overwrite moved it away');
  await upsert(['fresh'], [q]);
  assert.equal((await ask()).ids[0]![0], 'fresh');
  assert.equal((await call(hv.url, 'POST', `/v1/collections/${NAME}/delete`, { ids: ['fresh'] })).status, 200);
  assert.deepEqual(await ask(), first.body, 'a delete');

  // Another collection, dropped and re-created under the same name with other records.
  assert.equal((await call(hv.url, 'POST', '/v1/collections', { name: 'other', dimension: 2 })).status, 201);
  assert.equal((await call(hv.url, 'POST', '/v1/collections/other/upsert', { ids: ['a'], embeddings: [[1, 1]] })).status, 200);
  const other = { embeddings: [[1, 1]], k: 1 };
  for (let i = 0; i < 3; i++) assert.deepEqual((await post<Answer>(hv.queryUrl!, '/v1/collections/other/query', other)).body.ids, [['a']]);
  assert.equal((await call(hv.url, 'DELETE', '/v1/collections/other')).status, 200);
  const gone = await post<{ error: { code: string } }>(hv.queryUrl!, '/v1/collections/other/query', other);
  assert.deepEqual([gone.status, gone.body.error.code], [404, 'HOTVEC_COLLECTION_NOT_FOUND'], 'a drop');
  assert.equal((await call(hv.url, 'POST', '/v1/collections', { name: 'other', dimension: 2 })).status, 201);
  assert.equal((await call(hv.url, 'POST', '/v1/collections/other/upsert', { ids: ['b'], embeddings: [[1, 1]] })).status, 200);
  assert.deepEqual((await post<Answer>(hv.queryUrl!, '/v1/collections/other/query', other)).body.ids, [['b']], 'a re-created collection');
});

test('the query port speaks the WebSocket query op, JSON and msgpack frames, as the main port does; other ops are refused with the main port named', async () => {
  const ws = new WebSocket(`${hv.queryUrl!.replace('http', 'ws')}/v1/ws`);
  const answers = new Map<unknown, { id: unknown; result?: Answer; error?: { code: string; message: string } }>();
  let waiting: (() => void) | undefined;
  ws.on('message', (m: Buffer, binary: boolean) => {
    const a = (binary ? packr.unpack(m) : JSON.parse(m.toString())) as { id: unknown };
    answers.set(a.id, a);
    waiting?.();
  });
  await once(ws, 'open');
  const answered = (n: number): Promise<void> => new Promise((resolve) => (waiting = () => answers.size >= n && resolve()));
  const countBefore = await settledMetric('hotvec_request_duration_seconds_count', { op: 'query', transport: 'ws' });
  const queries = randomVectors(6, DIM, 321);
  for (const [i, q] of queries.entries()) ws.send(JSON.stringify({ id: i, op: 'query', collection: NAME, embeddings: [q], k: 5 }));
  ws.send(packr.pack({ id: 'bin', op: 'query', collection: NAME, embeddings: new Uint8Array(new Float32Array(queries[0]!).buffer), k: 5 }));
  ws.send(JSON.stringify({ id: 'count', op: 'count', collection: NAME }));
  ws.send(JSON.stringify({ id: 'nope', op: 'frobnicate' }));
  await answered(queries.length + 3);
  for (const [i, q] of queries.entries()) {
    const http = await call<Answer>(hv.url, 'POST', `/v1/collections/${NAME}/query`, { embeddings: [q], k: 5 });
    assert.deepEqual(answers.get(i)?.result, http.body, `query ${i}`);
  }
  assert.deepEqual(answers.get('bin')?.result?.ids, answers.get(0)?.result?.ids, 'msgpack float32 bin');
  assert.equal(answers.get('count')?.error?.code, 'HOTVEC_INVALID_ARGUMENT');
  assert.ok(answers.get('count')!.error!.message.includes(`main port (${hv.port})`), answers.get('count')!.error!.message);
  assert.equal(answers.get('nope')?.error?.code, 'HOTVEC_INVALID_ARGUMENT');
  ws.close();
  // 7 queries answered and 2 refusals, counted as WebSocket queries.
  assert.ok(await until(async () => (await metric('hotvec_request_duration_seconds_count', { op: 'query', transport: 'ws' })) - countBefore === 9), 'counted in /metrics');
});

test('the query port refuses what it does not serve, with the main port named, and its requests reach /metrics', async () => {
  // The earlier tests' last requests may still be on their way from the workers.
  const before = await settledMetric('hotvec_request_duration_seconds_count', { op: 'query', transport: 'http' });
  const count = await fetch(`${hv.queryUrl}/v1/collections/${NAME}/count`);
  assert.equal(count.status, 404);
  const countBody = (await count.json()) as { error: { code: string; message: string } };
  assert.equal(countBody.error.code, 'HOTVEC_ROUTE_NOT_FOUND');
  assert.ok(countBody.error.message.includes(`main port (${hv.port})`), countBody.error.message);
  const meta = await call<{ error: { code: string } }>(hv.queryUrl!, 'POST', `/v1/collections/${NAME}/query`, { embeddings: [data[0]], include: ['metadatas'] });
  assert.deepEqual([meta.status, meta.body.error.code], [400, 'HOTVEC_INVALID_ARGUMENT']);
  const dim = await call<{ error: { code: string } }>(hv.queryUrl!, 'POST', `/v1/collections/${NAME}/query`, { embeddings: [[1, 2]] });
  assert.deepEqual([dim.status, dim.body.error.code], [400, 'HOTVEC_DIMENSION_MISMATCH']);
  const missing = await call<{ error: { code: string } }>(hv.queryUrl!, 'POST', '/v1/collections/nope/query', { embeddings: [data[0]] });
  assert.deepEqual([missing.status, missing.body.error.code], [404, 'HOTVEC_COLLECTION_NOT_FOUND']);
  const wrongMethod = await call<{ error: { code: string } }>(hv.queryUrl!, 'GET', `/v1/collections/${NAME}/query`);
  assert.deepEqual([wrongMethod.status, wrongMethod.body.error.code], [405, 'HOTVEC_METHOD_NOT_ALLOWED']);
  const health = await call<{ status: string }>(hv.queryUrl!, 'GET', '/health');
  assert.deepEqual([health.status, health.body.status], [200, 'ok']);
  for (let i = 0; i < 5; i++) assert.equal((await call(hv.queryUrl!, 'POST', `/v1/collections/${NAME}/query`, { embeddings: [data[i]] })).status, 200);
  // 5 answered, 3 refused (the route-not-found one is no query): all 8 counted as queries.
  assert.ok(await until(async () => (await metric('hotvec_request_duration_seconds_count', { op: 'query', transport: 'http' })) - before === 8), 'counted in /metrics');
});

test("the query port's work counts in the pool's utilisation", async () => {
  // A process no main-port query reached: no Piscina task ran, so Piscina's own measure is 0.
  const h = await start();
  try {
    assert.equal((await call(h.url, 'POST', '/v1/collections', { name: 'u', dimension: DIM })).status, 201);
    assert.equal((await call(h.url, 'POST', '/v1/collections/u/upsert', { ids: ['a', 'b'], embeddings: data.slice(0, 2) })).status, 200);
    const utilization = async (): Promise<number> => select(parsePrometheus(await (await fetch(`${h.url}/metrics`)).text()).samples, 'hotvec_pool_utilization_ratio', {})[0]!.value;
    assert.equal(await utilization(), 0, 'no work yet');
    for (let i = 0; i < 50; i++) assert.equal((await call(h.queryUrl!, 'POST', '/v1/collections/u/query', { embeddings: [data[i]], k: 1 })).status, 200);
    assert.ok(await until(async () => (await utilization()) > 0), 'the workers reported their busy time');
    const u = await utilization();
    assert.ok(u < 1, `a share of the time, got ${u}`);
  } finally {
    await h.kill9();
    await removeDir(h.dataDir);
  }
});

test('a graceful stop with connections open to the query port ends with exit status 0', async () => {
  const h = await start();
  assert.equal((await call(h.url, 'POST', '/v1/collections', { name: 's', dimension: 2 })).status, 201);
  const keep = new Agent({ keepAlive: true });
  try {
    // Idle kept-alive connections to each worker (the kernel spreads them).
    await Promise.all(
      Array.from({ length: 6 }, () =>
        keptAlive(keep, `${h.queryUrl}/v1/collections/s/query`, { embeddings: [[0, 0]], k: 1 }),
      ),
    );
    // And a WebSocket left open.
    const ws = new WebSocket(`${h.queryUrl!.replace('http', 'ws')}/v1/ws`);
    await once(ws, 'open');
    const closed = once(ws, 'close');
    assert.equal(await h.stop(), 0);
    await closed;
  } finally {
    keep.destroy();
  }
});

test('a --query-port another process listens on stops the start with exit status 2 and a one-line message', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as AddressInfo).port;
  const dir = await tempDir();
  try {
    const proc = spawn(process.execPath, [MAIN, '--port', '0', '--query-port', String(port), '--data-dir', dir, '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout.resume();
    const [code] = (await once(proc, 'exit')) as [number | null];
    assert.equal(code, 2, stderr);
    assert.match(stderr, new RegExp(`^hotvec: cannot listen on 127\\.0\\.0\\.1:${port} \\(port in use\\)$`, 'm'));
  } finally {
    holder.close();
    await removeDir(dir);
  }
});

test("a second signal during the stop exits at once with status 1, the query port's sockets closed first (no abort)", async () => {
  const h = await start();
  const keep = new Agent({ keepAlive: true });
  try {
    await keptAlive(keep, `${h.queryUrl}/health`);
    // A request on the main port whose body never ends keeps the graceful stop waiting (drain),
    // with the query port still open, when the second signal comes.
    const hanging = connect(h.port, '127.0.0.1');
    await once(hanging, 'connect');
    hanging.write('POST /v1/collections/s/upsert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    await new Promise((r) => setTimeout(r, 100));
    h.proc.kill('SIGTERM');
    await h.waitForLog(/"stopping"/);
    h.proc.kill('SIGTERM');
    const [code, signal] = (await once(h.proc, 'exit')) as [number | null, string | null];
    assert.deepEqual([code, signal], [1, null], h.logs.slice(-10).join('\n'));
    hanging.destroy();
  } finally {
    keep.destroy();
  }
});

test("an uncaught error on the main thread exits with status 1, the query port's sockets closed first (no abort)", async () => {
  const fixture = new URL('../fixtures/throw-on-sigusr2.js', import.meta.url).pathname;
  const h = await startHotvec({ chromaUrl: chroma.url, args: ARGS, env: { NODE_OPTIONS: `--import=${fixture}` } });
  started.push(h);
  const keep = new Agent({ keepAlive: true });
  try {
    // A kept-alive connection to the query port: a worker ending with it open would abort the process.
    await keptAlive(keep, `${h.queryUrl}/health`);
    h.proc.kill('SIGUSR2');
    const [code, signal] = (await once(h.proc, 'exit')) as [number | null, string | null];
    assert.deepEqual([code, signal], [1, null], h.logs.slice(-10).join('\n'));
    assert.ok(await h.waitForLog(/uncaught exception: exiting/), 'logged');
  } finally {
    keep.destroy();
  }
});

test('--query-port equal to --port is refused at start with exit status 2', async () => {
  const dir = await tempDir();
  try {
    const proc = spawn(process.execPath, [MAIN, '--port', '18977', '--query-port', '18977', '--data-dir', dir, '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout.resume();
    const [code] = (await once(proc, 'exit')) as [number | null];
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--query-port must differ from --port/);
  } finally {
    await removeDir(dir);
  }
});
