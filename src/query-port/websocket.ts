/**
 * WebSocket on the query port, at /v1/ws: the main port's protocol for one operation. A message
 * `{id, op: "query", collection, ...the HTTP body's fields}` is answered `{id, result}` or
 * `{id, error}` in the frame type it came in (text JSON, binary msgpack), by the worker that took
 * the connection, as soon as it arrives (a worker answers in order: no request waits on another
 * thread). Any other op is refused with the main port named. Answers queue in JS while the
 * socket's send buffer is over `highWaterBytes` (ws-send.ts), as on the main port.
 */
import type { WebSocketBehavior } from 'uWebSockets.js';
import { HotvecError, invalid, toHotvecError } from '../errors.js';
import { decode, encode, type Encoding } from '../server/codec.js';
import { isOpName } from '../server/operations.js';
import { flushQueued, sendOrQueue, socketBasics, type Outbox } from '../server/ws-send.js';
import type { QueryAnswerer } from './answer.js';
import type { WorkerRelay } from './relay.js';

export interface QueryPortSocketOptions {
  maxPayloadBytes: number;
  highWaterBytes: number;
  /** Throws NOT_READY unless the engine is serving. */
  assertServing: () => void;
  mainPort: () => number;
}

export function queryPortSockets(answerer: QueryAnswerer, relay: WorkerRelay, options: QueryPortSocketOptions): WebSocketBehavior<Outbox> {
  return {
    ...socketBasics<Outbox>(options.maxPayloadBytes, () => ({ closed: false, pending: [] })),
    message: (ws, raw, isBinary) => {
      const started = performance.now();
      const encoding: Encoding = isBinary ? 'msgpack' : 'json';
      let id: unknown = null;
      let answer: unknown;
      let status = 200;
      let error: HotvecError | undefined;
      try {
        // The ArrayBuffer is only valid during this callback; decode copies what it keeps.
        const msg = decode(new Uint8Array(raw), encoding);
        if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new HotvecError('MALFORMED_BODY', 'a message must be an object {id, op, ...}');
        const { id: msgId, op, collection, ...fields } = msg as Record<string, unknown>;
        id = msgId ?? null;
        if (op !== 'query') {
          throw invalid(isOpName(op) || op === 'subscribe' || op === 'unsubscribe' ? `the query port answers "query" only; "${op}" is on the main port (${options.mainPort()})` : `"op" must be "query" on the query port; got ${JSON.stringify(op)}`);
        }
        if (typeof collection !== 'string') throw invalid('"collection" must be a string');
        options.assertServing();
        answer = { id, result: answerer.answer(collection, fields) };
      } catch (err) {
        error = toHotvecError(err);
        status = error.status;
        answer = { id, error: error.toJSON() };
      }
      sendOrQueue(ws, encode(answer, encoding, false), isBinary, options.highWaterBytes);
      const seconds = (performance.now() - started) / 1000;
      // The message is whole when this runs: all of its time is this thread's work.
      relay.record('ws', status, seconds, seconds, error?.kind === 'service' ? error : undefined);
    },
    drain: (ws) => flushQueued(ws, options.highWaterBytes),
    close: (ws) => {
      ws.getUserData().closed = true;
    },
  };
}
