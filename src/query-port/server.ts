/**
 * The query port, in a query worker: a uWS app on `--query-port` that every worker listens on
 * (SO_REUSEPORT: the kernel spreads the connections over them), answering
 * `POST /v1/collections/:name/query` and the WebSocket `query` op at /v1/ws (websocket.ts) from
 * start to finish in the thread that took it — no hand-off to another thread on the way
 * (answer.ts). `GET /health` tells readiness; every other route is the main port's, and the
 * answer says so.
 *
 * Stopping: Node aborts the process when a thread ends with uWS handles open, so a worker closes
 * its listener and every connection (`close()`, on the main thread's order through the relay, and
 * on an uncaught error) before the pool may stop it.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { HotvecError, toHotvecError } from '../errors.js';
import { BodyBuffers } from '../server/body-buffers.js';
import { decode, encode, encodingOfAccept, encodingOfContentType, contentTypeOf, type Encoding } from '../server/codec.js';
import { ResponseState, readBody } from '../server/http.js';
import { closeApp, loadUws, type LoadedUws } from '../server/uws.js';
import type { Outbox } from '../server/ws-send.js';
import type { QueryAnswerer } from './answer.js';
import { EngineStatus, StatusWord, type QueryPortInit } from './messages.js';
import type { WorkerRelay } from './relay.js';
import { queryPortSockets } from './websocket.js';

export class QueryPortServer {
  private readonly uws: LoadedUws;
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly bodyBuffers = new BodyBuffers();
  private readonly status: Int32Array;
  private closed = false;

  constructor(
    private readonly init: QueryPortInit,
    private readonly answerer: QueryAnswerer,
    private readonly relay: WorkerRelay,
  ) {
    this.status = new Int32Array(init.status);
    this.uws = loadUws();
    this.app = this.uws.uws.App();
    this.app.get('/health', (res) => {
      const status = this.statusName();
      new ResponseState(res).sendValue(status === 'ok' ? 200 : 503, { status, port: 'query' }, 'json');
    });
    this.app.post('/v1/collections/:name/query', (res, req) => this.handle(res, req));
    this.app.ws<Outbox>(
      '/v1/ws',
      queryPortSockets(answerer, relay, {
        maxPayloadBytes: init.maxBodyBytes,
        highWaterBytes: 1 << 20,
        assertServing: () => this.assertServing(),
        mainPort: () => Atomics.load(this.status, StatusWord.MAIN_PORT),
      }),
    );
    this.app.any('/*', (res, req) => {
      const url = req.getUrl();
      if (/^\/v1\/collections\/[^/]+\/query$|^\/health$|^\/v1\/ws$/.test(url)) {
        new ResponseState(res).sendError(new HotvecError('METHOD_NOT_ALLOWED', `${req.getMethod().toUpperCase()} is not allowed on ${url}`), 'json', true);
        return;
      }
      const err = new HotvecError('ROUTE_NOT_FOUND', `the query port serves POST /v1/collections/:name/query, the WebSocket query op at /v1/ws and GET /health; ${req.getMethod().toUpperCase()} ${req.getUrl()} is on the main port (${Atomics.load(this.status, StatusWord.MAIN_PORT)})`);
      new ResponseState(res).sendError(err, 'json', true);
    });
  }

  private assertServing(): void {
    if (Atomics.load(this.status, StatusWord.STATUS) !== EngineStatus.OK) throw new HotvecError('NOT_READY', `hotvec is ${this.statusName()}; retry shortly`);
  }

  private statusName(): 'ok' | 'recovering' | 'stopping' {
    const s = Atomics.load(this.status, StatusWord.STATUS);
    return s === EngineStatus.OK ? 'ok' : s === EngineStatus.RECOVERING ? 'recovering' : 'stopping';
  }

  private handle(res: HttpResponse, req: HttpRequest): void {
    const started = performance.now();
    const state = new ResponseState(res);
    // Everything from `req` must be read now: it is invalid after this callback returns.
    const contentType = req.getHeader('content-type');
    const accept = req.getHeader('accept');
    const contentLength = Number(req.getHeader('content-length') || 0);
    const rawName = req.getParameter(0) ?? '';
    let resEncoding: Encoding = 'json';
    let reqEncoding: Encoding = 'json';
    try {
      reqEncoding = encodingOfContentType(contentType);
      resEncoding = encodingOfAccept(accept, reqEncoding);
    } catch (err) {
      this.fail(state, toHotvecError(err), resEncoding, started, performance.now() - started, true);
      return;
    }
    const buffers = reqEncoding === 'json' ? this.bodyBuffers : undefined;
    // This thread's time on the request: this callback's, then the one with the whole body (not the wait between).
    const busyMs = performance.now() - started;
    let bodyAt = 0;
    readBody(state, this.init.maxBodyBytes, contentLength, buffers)
      .then((bytes) => {
        bodyAt = performance.now();
        let body: unknown;
        try {
          body = decode(bytes, reqEncoding);
        } finally {
          buffers?.give(bytes);
        }
        this.assertServing();
        let name: string;
        try {
          name = decodeURIComponent(rawName);
        } catch {
          throw new HotvecError('INVALID_ARGUMENT', `the collection name in the path is not valid percent-encoding: ${rawName}`);
        }
        const result = this.answerer.answer(name, body);
        state.send(200, encode(result, resEncoding, false), contentTypeOf(resEncoding));
        const now = performance.now();
        this.relay.record('http', 200, (now - started) / 1000, (busyMs + now - bodyAt) / 1000);
      })
      .catch((err: unknown) => {
        const e = toHotvecError(err);
        const now = performance.now();
        this.fail(state, e, resEncoding, started, busyMs + (bodyAt > 0 ? now - bodyAt : 0), e.code === 'HOTVEC_PAYLOAD_TOO_LARGE');
      });
  }

  private fail(state: ResponseState, e: HotvecError, encoding: Encoding, started: number, busyMs: number, closeConnection: boolean): void {
    state.sendError(e, encoding, closeConnection);
    // A client that left half-way through its body: its time is not the server's latency.
    if (e.code !== 'HOTVEC_CLIENT_CLOSED_REQUEST') this.relay.record('http', e.status, (performance.now() - started) / 1000, busyMs / 1000, e.kind === 'service' ? e : undefined);
  }

  /** Binds the port beside the other workers (SO_REUSEPORT). Resolves false when it cannot. */
  listen(): Promise<boolean> {
    return new Promise((resolve) => {
      this.app.listen(this.init.host, this.init.port, (socket) => {
        if (socket) this.listenSocket = socket;
        resolve(Boolean(socket));
      });
    });
  }

  /** Closes the listener and every connection (requests in flight are cut). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.listenSocket) this.uws.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
    // (The pure-Node fallback cannot; the engine refuses a query port on it.)
    closeApp(this.app);
  }
}
