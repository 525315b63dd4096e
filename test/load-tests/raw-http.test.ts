/**
 * The load tests' lean HTTP client reads answers framed by Content-Length and by chunked
 * encoding, whole however the bytes are split, keeps connections alive between requests,
 * opens one per request in flight, and does not reuse one the server closes.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { RawHttpClient } from '../../load-tests/lib/raw-http.js';

const seen: { body: string; socket: number }[] = [];
const sockets = new WeakMap<object, number>();
let nextSocket = 0;
let url = '';

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  if (!sockets.has(req.socket)) sockets.set(req.socket, nextSocket++);
  seen.push({ body, socket: sockets.get(req.socket)! });
  const { mode, size, status } = JSON.parse(body) as { mode: string; size: number; status?: number };
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

test('answers with a length and chunked, one after another on one kept-alive connection', async () => {
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

test('one connection per request in flight; a connection the server closes is not reused', async () => {
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

test('an idle connection the server closes leaves the pool; the next request opens a new one', async () => {
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
