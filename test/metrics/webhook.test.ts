/** WebhookSender against a real local HTTP server: retries, giving up, order, a bounded queue. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { WebhookSender } from '../../src/metrics/webhook.js';

let server: Server;
let url: string;
/** Status codes to answer with, in order; 200 once used up. */
let script: number[] = [];
const received: unknown[] = [];

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = script.shift() ?? 200;
      if (status === 200) received.push(JSON.parse(Buffer.concat(chunks).toString()));
      res.writeHead(status).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

test('a failed POST is retried until it is delivered', async () => {
  received.length = 0;
  script = [500, 503];
  const w = new WebhookSender({ url, attempts: 4, backoffMs: 5 });
  const delivered: number[] = [];
  w.on('delivered', (d) => delivered.push(d.attempts));
  w.send({ n: 1 });
  await w.settled();
  assert.deepEqual(received, [{ n: 1 }]);
  assert.deepEqual(delivered, [3]);
});

test('after the last try the event is given up and the next one still goes, in order', async () => {
  received.length = 0;
  script = [500, 500];
  const w = new WebhookSender({ url, attempts: 2, backoffMs: 5 });
  const failed: { error: string; attempts: number }[] = [];
  w.on('failed', (f) => failed.push(f));
  w.send({ n: 1 });
  w.send({ n: 2 });
  w.send({ n: 3 });
  await w.settled();
  assert.deepEqual(failed, [{ error: 'HTTP 500', attempts: 2 }]);
  assert.deepEqual(received, [{ n: 2 }, { n: 3 }]);
});

test('an unreachable URL fails without throwing', async () => {
  const w = new WebhookSender({ url: 'http://127.0.0.1:1/none', attempts: 2, backoffMs: 5, timeoutMs: 1000 });
  const failed: string[] = [];
  w.on('failed', (f) => failed.push(f.error));
  w.send({ n: 1 });
  await w.settled();
  assert.equal(failed.length, 1);
});

test('a full queue drops the oldest event', async () => {
  received.length = 0;
  script = [];
  const w = new WebhookSender({ url, maxQueue: 2 });
  let dropped = 0;
  w.on('dropped', (d) => (dropped += d.dropped));
  // The first is taken off the queue at once; 2, 3, 4 queue behind it with room for two.
  for (let n = 1; n <= 4; n++) w.send({ n });
  await w.settled();
  assert.equal(dropped, 1);
  assert.deepEqual(received, [{ n: 1 }, { n: 3 }, { n: 4 }]);
});

test('close() stops retrying and refuses new events', async () => {
  received.length = 0;
  script = [500, 500, 500, 500];
  const w = new WebhookSender({ url, attempts: 4, backoffMs: 60_000 });
  w.send({ n: 1 });
  await new Promise((r) => setTimeout(r, 50));
  w.close();
  await w.settled();
  w.send({ n: 2 });
  await w.settled();
  assert.deepEqual(received, []);
  script = [];
});

test('options are validated', () => {
  assert.throws(() => new WebhookSender({ url: 'ftp://x' }), /http/);
  assert.throws(() => new WebhookSender({ url, attempts: 0 }), /attempts/);
});
