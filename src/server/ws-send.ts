/**
 * Sending on a WebSocket with backpressure: an answer goes out at once while uWS's buffer for
 * the socket is under `highWaterBytes`, else it queues in JS (in order) and the socket's `drain`
 * handler sends the queue as the buffer empties. Shared by the main port's and the query port's
 * WebSocket handlers.
 */
import type { WebSocket, WebSocketBehavior } from 'uWebSockets.js';

export interface Outbox {
  closed: boolean;
  pending: { body: Uint8Array | string; binary: boolean }[];
}

export function sendOrQueue<D extends Outbox>(ws: WebSocket<D>, body: Uint8Array | string, binary: boolean, highWaterBytes: number): void {
  const data = ws.getUserData();
  if (data.closed) return;
  if (data.pending.length > 0 || ws.getBufferedAmount() >= highWaterBytes) {
    data.pending.push({ body, binary });
    return;
  }
  ws.cork(() => ws.send(body, binary));
}

/**
 * The settings both ports' WebSockets share, and the upgrade that gives each socket a fresh
 * `data()`: messages up to `maxPayloadBytes`, 120 s idle timeout with automatic pings, and a
 * 64 MiB uWS buffer that never closes the socket (answers queue in JS beyond the high water).
 */
export function socketBasics<D extends Outbox>(maxPayloadBytes: number, data: () => D): WebSocketBehavior<D> {
  return {
    maxPayloadLength: maxPayloadBytes,
    idleTimeout: 120,
    maxBackpressure: 64 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      res.upgrade<D>(data(), req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
  };
}

/** For the socket's `drain`: sends what queued while there is room. */
export function flushQueued<D extends Outbox>(ws: WebSocket<D>, highWaterBytes: number): void {
  const data = ws.getUserData();
  while (data.pending.length > 0 && !data.closed && ws.getBufferedAmount() < highWaterBytes) {
    const next = data.pending.shift()!;
    ws.send(next.body, next.binary);
  }
}
