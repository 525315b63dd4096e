/**
 * The query port's hold (query-port/port-hold.ts): from the engine's choice until the workers
 * listen, no other process can take the port — a plain listener cannot bind it — while a
 * port-sharing uWS listener (as each worker's is) joins it; the hold answers 503 NOT_READY
 * meanwhile, and once let go the port is the joiners' alone.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, test } from 'node:test';
import type { us_listen_socket } from 'uWebSockets.js';
import { PortHold } from '../../src/query-port/port-hold.js';
import { loadUws } from '../../src/server/uws.js';

const loaded = loadUws();
const { uws } = loaded;
const sockets: us_listen_socket[] = [];
after(() => {
  for (const s of sockets) uws.us_listen_socket_close(s);
});

const exclusiveBind = (port: number): Promise<string> =>
  new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => resolve('bound')));
  });

test('a held port: others cannot bind it, a port-sharing listener joins it, the hold answers 503, and letting go leaves it to the joiner', async () => {
  const hold = await PortHold.take(loaded, '127.0.0.1', 0);
  try {
    assert.ok(hold.port > 0, 'port 0 becomes the port the OS picked');
    assert.equal(await exclusiveBind(hold.port), 'EADDRINUSE', 'nobody else takes it');
    const answer = await fetch(`http://127.0.0.1:${hold.port}/v1/collections/x/query`, { method: 'POST', body: '{}' });
    assert.equal(answer.status, 503);
    assert.equal(((await answer.json()) as { error: { code: string } }).error.code, 'HOTVEC_NOT_READY');
    // A worker's listener (uWS's default: SO_REUSEPORT) joins the held port.
    const worker = uws.App().get('/*', (res) => {
      res.end('worker');
    });
    const joined = await new Promise<us_listen_socket | false>((resolve) => worker.listen('127.0.0.1', hold.port, resolve));
    assert.ok(joined, 'the worker joins the held port');
    sockets.push(joined);
    hold.release();
    hold.release(); // idempotent
    for (let i = 0; i < 8; i++) assert.equal(await (await fetch(`http://127.0.0.1:${hold.port}/`, { headers: { connection: 'close' } })).text(), 'worker', 'only the worker answers once the hold is let go');
  } finally {
    hold.release();
  }
});

test('an explicit port is held as given; one another listener already has is refused', async () => {
  const first = await PortHold.take(loaded, '127.0.0.1', 0);
  try {
    const again = await PortHold.take(loaded, '127.0.0.1', first.port);
    assert.equal(again.port, first.port, 'a second port-sharing hold joins (the engine probes exclusively before holding)');
    again.release();
    const plain = createServer();
    await new Promise<void>((resolve) => plain.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve));
    const taken = (plain.address() as { port: number }).port;
    await assert.rejects(PortHold.take(loaded, '127.0.0.1', taken), (err: Error & { code?: string }) => err.code === 'HOTVEC_INVALID_CONFIG');
    await new Promise((r) => plain.close(r));
  } finally {
    first.release();
  }
});
