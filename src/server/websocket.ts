/**
 * WebSocket protocol at /v1/ws: each message `{id, op, collection, ...fields}` is answered by
 * `{id, result}` or `{id, error}` as soon as it finishes (many in flight per socket). Binary
 * frames are msgpack, text frames JSON; the answer uses the frame type of the request.
 * Backpressure: answers queue in JS while uWS's buffer is over `highWaterBytes` and go out on
 * `drain`; a socket with too many requests in flight gets OVERLOADED answers.
 *
 * `{id, op: "subscribe", topic}` (and "unsubscribe") attaches the socket to a push topic
 * (`sla`): the topic's events arrive as `{topic, event, data}` in the subscribe frame's
 * encoding until the socket unsubscribes or closes. Periodic snapshots are skipped, not
 * queued, while the socket is backpressured; other events queue like answers.
 */
import type { WebSocket, WebSocketBehavior } from 'uWebSockets.js';
import { HotvecError, invalid, toHotvecError } from '../errors.js';
import type { ServiceContext } from '../service/index.js';
import { decode, encode, type Encoding } from './codec.js';
import { dispatch, isOpName, mayCarryEmbeddings, opNames } from './operations.js';
import type { RequestObserver } from './server.js';
import { flushQueued, sendOrQueue, socketBasics, type Outbox } from './ws-send.js';

export interface SocketData extends Outbox {
  inflight: number;
  /** Topic → unsubscribe, for the topics this socket subscribed to. */
  topics?: Map<string, () => void>;
}

/** A push channel sockets subscribe to. `push` throws once its socket is gone. */
export interface Topic {
  subscribe(push: (event: string, data: unknown) => void): () => void;
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
  topics: Readonly<Record<string, Topic>> = {},
): WebSocketBehavior<SocketData> {
  const reply = (ws: WebSocket<SocketData>, message: unknown, encoding: Encoding, typed: boolean): void => {
    if (ws.getUserData().closed) return;
    sendOrQueue(ws, encode(message, encoding, typed), encoding === 'msgpack', options.highWaterBytes);
  };

  const subscription = (ws: WebSocket<SocketData>, m: Record<string, unknown>, encoding: Encoding): unknown => {
    const name = m.topic;
    if (typeof name !== 'string' || !Object.hasOwn(topics, name)) {
      throw invalid(`"topic" must be one of ${Object.keys(topics).join(', ') || '(none)'}; got ${JSON.stringify(name)}`);
    }
    const data = ws.getUserData();
    const subs = (data.topics ??= new Map());
    if (m.op === 'unsubscribe') {
      subs.get(name)?.();
      subs.delete(name);
      return { unsubscribed: name };
    }
    if (!subs.has(name)) {
      const push = (event: string, payload: unknown): void => {
        if (data.closed) throw new Error('socket closed');
        // A snapshot is superseded by the next one: a slow socket skips it rather than queueing it.
        if (event === 'snapshot' && (data.pending.length > 0 || ws.getBufferedAmount() >= options.highWaterBytes)) return;
        reply(ws, { topic: name, event, data: payload }, encoding, false);
      };
      let unsubscribe: (() => void) | undefined;
      let cancelled = false;
      subs.set(name, () => {
        cancelled = true;
        unsubscribe?.();
      });
      // After the answer is sent, so the subscriber sees the confirmation before the first push.
      setImmediate(() => {
        if (!cancelled && !data.closed) unsubscribe = topics[name]!.subscribe(push);
      });
    }
    return { subscribed: name };
  };

  return {
    ...socketBasics<SocketData>(options.maxPayloadBytes, () => ({ closed: false, inflight: 0, pending: [] })),
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
        if (m.op === 'subscribe' || m.op === 'unsubscribe') {
          op = m.op;
          return subscription(ws, m, encoding);
        }
        if (!isOpName(m.op)) throw invalid(`"op" must be one of ${opNames.join(', ')}; got ${JSON.stringify(m.op)}`);
        op = m.op;
        if (m.collection !== undefined && typeof m.collection !== 'string') throw invalid('"collection" must be a string');
        if (data.inflight > options.maxInflightPerSocket) {
          throw new HotvecError('OVERLOADED', `more than ${options.maxInflightPerSocket} requests in flight on this socket; wait for answers`);
        }
        if (m.op === 'create_collection' && m.name !== undefined && m.collection !== undefined && m.name !== m.collection) {
          throw invalid(`"name" (${JSON.stringify(m.name)?.slice(0, 140)}) and "collection" (${JSON.stringify(m.collection).slice(0, 140)}) differ; create_collection takes one of them`);
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
          if (op !== 'subscribe' && op !== 'unsubscribe') observe(op, 'ws', 200, (performance.now() - started) / 1000);
        },
        (err: unknown) => {
          data.inflight--;
          const e = toHotvecError(err);
          if (e.kind === 'service') onServiceError(e);
          reply(ws, { id, error: e.toJSON() }, encoding, false);
          if (op !== 'subscribe' && op !== 'unsubscribe') observe(op, 'ws', e.status, (performance.now() - started) / 1000);
        },
      );
    },
    drain: (ws) => flushQueued(ws, options.highWaterBytes),
    close: (ws) => {
      const data = ws.getUserData();
      data.closed = true;
      sockets.delete(ws);
      if (data.topics) for (const unsubscribe of data.topics.values()) unsubscribe();
      data.topics?.clear();
    },
  };
}
