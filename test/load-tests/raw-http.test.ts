/**
 * The load tests' lean HTTP client sends bodies whole (a string, or pieces), reads answers
 * framed by Content-Length and by chunked encoding, whole however the bytes are split, keeps
 * connections alive between requests, opens one per request in flight, and does not reuse one
 * the server closes.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { RawHttpClient } from '../../load-tests/lib/raw-http.js';

const seen: { body: string; socket: number }[] = [];
const sockets = new WeakMap<object, number>();
let nextSocket = 0;
let url = '';

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  if (!sockets.has(req.socket)) sockets.set(req.socket, nextSocket++);
  seen.push({ body, socket: sockets.get(req.socket)! });
  let parsed: { mode: string; size: number; status?: number };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // A whole body that is garbled (pieces out of order, say) fails its test at once; one that
    // never arrives whole leaves the server waiting, which the tests' timeout turns into a failure.
    res.statusCode = 400;
    res.end();
    return;
  }
  const { mode, size, status } = parsed;
  const payload = 'x'.repeat(size);
  res.statusCode = status ?? 200;
  if (mode === 'close') res.setHeader('connection', 'close');
  if (mode === 'chunked') {
    // Several chunks, written a moment apart so they arrive in separate reads.
    for (let at = 0; at < size; at += 1000) {
      res.write(payload.slice(at, at + 1000));
      await new Promise((r) => setTimeout(r, 1));
    }
    res.end();
    return;
  }
  res.setHeader('content-length', size);
  res.end(payload);
}

const server = createServer((req, res) => void answer(req, res));
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/q`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

test('answers with a length and chunked, one after another on one kept-alive connection', { timeout: 10_000 }, async () => {
  const client = new RawHttpClient(url);
  try {
    seen.length = 0;
    assert.equal(await client.postJson(JSON.stringify({ mode: 'length', size: 100_000 })), 200);
    assert.equal(await client.postJson(JSON.stringify({ mode: 'chunked', size: 5_500 })), 200);
    assert.equal(await client.postJson(JSON.stringify({ mode: 'length', size: 0, status: 404 })), 404);
    assert.equal(await client.postJson(JSON.stringify({ mode: 'length', size: 10, note: 'é' })), 200);
    assert.equal(client.connections, 1);
    assert.deepEqual(new Set(seen.map((s) => s.socket)).size, 1);
    assert.equal(JSON.parse(seen[3]!.body).note, 'é', 'the body arrives as UTF-8, whole');
  } finally {
    client.close();
  }
});

test('a body in pieces arrives whole and in order, with its Content-Length, kept alive after', { timeout: 10_000 }, async () => {
  const client = new RawHttpClient(url);
  try {
    seen.length = 0;
    const big = Buffer.from(`,"pad":"${'y'.repeat(300_000)}"`);
    const shared = Buffer.from('{"mode":"length","size":5,"note":"é"' + ',"n":1}');
    // Pieces as the benchmark makes them: slices of a larger buffer, a small fresh buffer, and
    // a piece larger than one socket write.
    const pieces = [shared.subarray(0, shared.indexOf(',"n"')), big, shared.subarray(shared.indexOf(',"n"'))];
    assert.equal(await client.postJson(pieces), 200);
    assert.equal(await client.postJson([Buffer.from('{"mode":"length",'), Buffer.from('"size":3}')]), 200);
    const first = JSON.parse(seen[0]!.body) as { note: string; pad: string; n: number };
    assert.equal(first.note, 'é');
    assert.equal(first.pad.length, 300_000);
    assert.equal(first.n, 1);
    assert.equal(seen[0]!.body.length, Buffer.concat(pieces).toString().length);
    assert.deepEqual(JSON.parse(seen[1]!.body), { mode: 'length', size: 3 });
    assert.equal(client.connections, 1);
  } finally {
    client.close();
  }
});

test('one connection per request in flight; a connection the server closes is not reused', { timeout: 10_000 }, async () => {
  const client = new RawHttpClient(url);
  try {
    const statuses = await Promise.all(Array.from({ length: 5 }, () => client.postJson(JSON.stringify({ mode: 'length', size: 10 }))));
    assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
    assert.equal(client.connections, 5);
    assert.equal(await client.postJson(JSON.stringify({ mode: 'close', size: 10 })), 200);
    assert.equal(client.connections, 4);
    assert.equal(await client.postJson(JSON.stringify({ mode: 'length', size: 10 })), 200);
  } finally {
    client.close();
  }
});

test('an idle connection the server closes leaves the pool; the next request opens a new one', { timeout: 10_000 }, async () => {
  const client = new RawHttpClient(url);
  try {
    assert.equal(await client.postJson(JSON.stringify({ mode: 'length', size: 10 })), 200);
    assert.equal(client.connections, 1);
    // The server drops its idle keep-alive sockets (as uWS does after its idle timeout).
    server.closeIdleConnections();
    for (let i = 0; i < 50 && client.connections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(client.connections, 0);
    assert.equal(await client.postJson(JSON.stringify({ mode: 'length', size: 10 })), 200);
  } finally {
    client.close();
  }
});

/**
 * A server that answers each request with the next scripted answer, written one byte at a time
 * (every split of a head, a chunk-size line or a trailer between reads).
 */
async function scripted(answers: string[], run: (url: string) => Promise<void>): Promise<void> {
  const script = [...answers];
  const server = createNetServer((socket: Socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buffered = Buffer.concat([buffered, d]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.toString('latin1', 0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        buffered = buffered.subarray(end + 4 + length);
        const answer = Buffer.from(script.shift() ?? 'HTTP/1.1 500 Out of script\r\ncontent-length: 0\r\n\r\n', 'latin1');
        void (async () => {
          for (let i = 0; i < answer.length; i++) {
            socket.write(answer.subarray(i, i + 1));
            await new Promise((r) => setImmediate(r));
          }
        })();
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}/q`);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test('answers split at every byte: interim 1xx, chunk extensions and trailers, 204 without a length', { timeout: 10_000 }, async () => {
  await scripted(
    [
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhello',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n3\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
      'HTTP/1.1 204 No Content\r\n\r\n',
      'HTTP/1.1 202 Accepted\r\nContent-Length: 3\r\n\r\nabc',
    ],
    async (url) => {
      const client = new RawHttpClient(url);
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) statuses.push(await client.postJson('{}'));
        // Were any answer misframed, a later request would get an earlier answer's leftovers.
        assert.deepEqual(statuses, [201, 200, 200, 204, 202]);
        assert.equal(client.connections, 1);
      } finally {
        client.close();
      }
    },
  );
});

test('an answer it cannot frame fails that request and drops the connection (no hang)', { timeout: 10_000 }, async () => {
  await scripted(['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n', 'HTTP/1.1 200 OK\r\n\r\nread to the close', 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'], async (url) => {
    const client = new RawHttpClient(url);
    try {
      await assert.rejects(client.postJson('{}'), /bad chunk size/);
      await assert.rejects(client.postJson('{}'), /neither a Content-Length nor chunked/);
      assert.equal(client.connections, 0);
      assert.equal(await client.postJson('{}'), 200);
    } finally {
      client.close();
    }
  });
});

test('a request whose answer stalls fails after the timeout and drops its connection; requests beyond maxConnections fail at once', { timeout: 10_000 }, async () => {
  // A server that reads requests and never answers.
  const silent = createNetServer((socket: Socket) => {
    socket.resume();
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const client = new RawHttpClient(`http://127.0.0.1:${(silent.address() as AddressInfo).port}/q`, { timeoutMs: 150, maxConnections: 2 });
  try {
    const started = performance.now();
    const stalled = [client.postJson('{}'), client.postJson('{}')].map((p) => assert.rejects(p, /no answer within 150 ms/));
    await assert.rejects(client.postJson('{}'), /2 requests already in flight/);
    assert.equal(client.connections, 2);
    await Promise.all(stalled);
    assert.ok(performance.now() - started >= 140, 'not before the timeout');
    assert.equal(client.connections, 0);
  } finally {
    client.close();
    silent.close();
  }
});
