/**
 * WebSocket protocol at /v1/ws: each message `{id, op, collection, ...fields}` is answered by
 * `{id, result}` or `{id, error}` as soon as it finishes (many in flight per socket). Binary
 * frames are msgpack, text frames JSON; the answer uses the frame type of the request.
 * Backpressure: answers queue in JS while uWS's buffer is over `highWaterBytes` and go out on
 * `drain`; a socket with too many requests in flight gets OVERLOADED answers.
 */
import type { WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { HotvecError, invalid, toHotvecError } from '../errors.js';
import type { ServiceContext } from '../service/index.js';
import { decode, encode, type Encoding } from './codec.js';
import { dispatch, isOpName, mayCarryEmbeddings, opNames } from './operations.js';
import type { RequestObserver } from './server.js';

export interface SocketData {
  closed: boolean;
  inflight: number;
  pending: { body: Uint8Array | string; binary: boolean }[];
}

export interface WebSocketOptions {
  maxPayloadBytes: number;
  maxInflightPerSocket: number;
  highWaterBytes: number;
}

export function webSocketBehavior(
  ctx: ServiceContext,
  options: WebSocketOptions,
  sockets: Set<WebSocket<SocketData>>,
  observe: RequestObserver,
  onServiceError: (err: HotvecError) => void,
): WebSocketBehavior<SocketData> {
  const flush = (ws: WebSocket<SocketData>): void => {
    const data = ws.getUserData();
    while (data.pending.length > 0 && !data.closed && ws.getBufferedAmount() < options.highWaterBytes) {
      const next = data.pending.shift()!;
      ws.send(next.body, next.binary);
    }
  };

  const reply = (ws: WebSocket<SocketData>, message: unknown, encoding: Encoding, typed: boolean): void => {
    const data = ws.getUserData();
    if (data.closed) return;
    const body = encode(message, encoding, typed);
    const binary = encoding === 'msgpack';
    if (data.pending.length > 0 || ws.getBufferedAmount() >= options.highWaterBytes) {
      data.pending.push({ body, binary });
      return;
    }
    ws.cork(() => ws.send(body, binary));
  };

  return {
    maxPayloadLength: options.maxPayloadBytes,
    idleTimeout: 120,
    maxBackpressure: 64 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      res.upgrade<SocketData>(
        { closed: false, inflight: 0, pending: [] },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      sockets.add(ws);
    },
    message: (ws, raw, isBinary) => {
      const started = performance.now();
      const encoding: Encoding = isBinary ? 'msgpack' : 'json';
      const data = ws.getUserData();
      let id: unknown = null;
      let op = 'unknown';
      const run = async (): Promise<unknown> => {
        // The ArrayBuffer is only valid during this callback; decode copies what it keeps.
        const msg = decode(new Uint8Array(raw), encoding);
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new HotvecError('MALFORMED_BODY', 'a message must be an object {id, op, ...}');
        const m = msg as Record<string, unknown>;
        id = m.id ?? null;
        if (!isOpName(m.op)) throw invalid(`"op" must be one of ${opNames.join(', ')}; got ${JSON.stringify(m.op)}`);
        op = m.op;
        if (m.collection !== undefined && typeof m.collection !== 'string') throw invalid('"collection" must be a string');
        if (data.inflight > options.maxInflightPerSocket) {
          throw new HotvecError('OVERLOADED', `more than ${options.maxInflightPerSocket} requests in flight on this socket; wait for answers`);
        }
        const body = m.op === 'create_collection' && m.name === undefined ? { ...m, name: m.collection } : m;
        const { id: _id, op: _op, collection: _c, ...fields } = body;
        void _id;
        void _op;
        void _c;
        return dispatch(ctx, { op: m.op, collection: m.collection as string | undefined, body: fields });
      };
      data.inflight++;
      run().then(
        (result) => {
          data.inflight--;
          reply(ws, { id, result }, encoding, mayCarryEmbeddings(op as never));
          observe(op, 'ws', 200, (performance.now() - started) / 1000);
        },
        (err: unknown) => {
          data.inflight--;
          const e = toHotvecError(err);
          if (e.kind === 'service') onServiceError(e);
          reply(ws, { id, error: e.toJSON() }, encoding, false);
          observe(op, 'ws', e.status, (performance.now() - started) / 1000);
        },
      );
    },
    drain: (ws) => flush(ws),
    close: (ws) => {
      ws.getUserData().closed = true;
      sockets.delete(ws);
    },
  };
}
