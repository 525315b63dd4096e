/**
 * The server binds its port alone: a port another listener shares (SO_REUSEPORT, as uWS sets it
 * by default) is refused, and once hotvec listens, no other listener can bind its port and take
 * a share of its connections. The probe run before the managed Chroma starts finds a held port
 * either way, and lets a free one go.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { us_listen_socket } from 'uWebSockets.js';
import { freePort } from '../../src/platform/free-port.js';
import { assertPortFree } from '../../src/server/port-probe.js';
import { Server } from '../../src/server/server.js';
import { loadUws } from '../../src/server/uws.js';
import type { ServiceContext } from '../../src/service/index.js';

const { uws } = loadUws();
const sockets: us_listen_socket[] = [];
const servers: Server[] = [];

after(() => {
  for (const s of sockets) uws.us_listen_socket_close(s);
  for (const s of servers) s.stopListening();
});

// listen() touches no service: a context is not needed to bind the port.
const server = (port: number): Server => {
  const s = new Server({} as ServiceContext, { host: '127.0.0.1', port, maxBodyBytes: 1024, status: () => 'ok' });
  servers.push(s);
  return s;
};

/** A plain uWS listener with uWS's default options (SO_REUSEPORT for a given port). */
const plainListen = (port: number): Promise<us_listen_socket | false> =>
  new Promise((resolve) => {
    uws.App().listen('127.0.0.1', port, (socket) => {
      if (socket) sockets.push(socket);
      resolve(socket);
    });
  });

test('a port another uWS listener holds is refused with HOTVEC_INVALID_CONFIG', async () => {
  const port = await freePort();
  assert.ok(await plainListen(port), 'the plain listener binds');
  await assert.rejects(server(port).listen(), (err: Error & { code?: string }) => err.code === 'HOTVEC_INVALID_CONFIG' && /cannot listen on 127\.0\.0\.1:\d+/.test(err.message));
});

test('once the server listens, no other listener binds its port', async () => {
  const port = await freePort();
  assert.equal(await server(port).listen(), port);
  assert.equal(await plainListen(port), false);
  await assert.rejects(server(port).listen(), /cannot listen/);
});

test('the start-up probe finds a port held by a listener that shares ports and one held by hotvec, and lets a free port go', async () => {
  const shared = await freePort();
  assert.ok(await plainListen(shared));
  await assert.rejects(assertPortFree('127.0.0.1', shared), (err: Error & { code?: string }) => err.code === 'HOTVEC_INVALID_CONFIG' && err.message === `cannot listen on 127.0.0.1:${shared} (port in use)`);
  const exclusive = await freePort();
  assert.equal(await server(exclusive).listen(), exclusive);
  await assert.rejects(assertPortFree('127.0.0.1', exclusive), /\(port in use\)/);
  const free = await freePort();
  await assertPortFree('127.0.0.1', free);
  assert.equal(await server(free).listen(), free, 'the probe let the port go');
  await assertPortFree('127.0.0.1', 0);
});
