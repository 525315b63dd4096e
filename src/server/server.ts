/**
 * The uWS front end: routes map to operations (decode → call → encode), `/v1/ws` speaks the
 * same operations over WebSocket, `/health` reports readiness. It owns no engine state.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';
import { HotvecError, invalid, toHotvecError } from '../errors.js';
import type { ServiceContext } from '../service/index.js';
import { BodyBuffers } from './body-buffers.js';
import { encodingOfAccept, encodingOfContentType, type Encoding } from './codec.js';
import { ResponseState, readDecoded } from './http.js';
import { dispatch, mayCarryEmbeddings, type OpName } from './operations.js';
import { cannotListen } from './port-probe.js';
import { loadUws, type LoadedUws } from './uws.js';
import { webSocketBehavior, type SocketData, type Topic } from './websocket.js';

export type Transport = 'http' | 'ws';
/** Called once per answered request; metrics hook in here. */
export type RequestObserver = (op: string, transport: Transport, status: number, seconds: number) => void;

export interface ServerOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  /** Reported by /health while not ready: 'recovering' | 'stopping' | ... */
  status: () => 'ok' | 'recovering' | 'stopping';
  observe?: RequestObserver;
  onServiceError?: (err: HotvecError) => void;
  /** Extra routes (metrics, dashboard) registered before the catch-all. */
  extraRoutes?: (app: TemplatedApp) => void;
  /** Push topics WebSocket clients may subscribe to (`{op: "subscribe", topic}`). */
  topics?: Readonly<Record<string, Topic>>;
}

interface Route {
  method: 'get' | 'post' | 'del';
  pattern: string;
  op: OpName;
  body: boolean;
  status: number;
}

/** uWS listen option: no SO_REUSEPORT (uSockets' LIBUS_LISTEN_EXCLUSIVE_PORT). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

const ROUTES: Route[] = [
  { method: 'post', pattern: '/v1/collections', op: 'create_collection', body: true, status: 201 },
  { method: 'get', pattern: '/v1/collections', op: 'list_collections', body: false, status: 200 },
  { method: 'get', pattern: '/v1/collections/:name', op: 'get_collection', body: false, status: 200 },
  { method: 'del', pattern: '/v1/collections/:name', op: 'delete_collection', body: false, status: 200 },
  { method: 'post', pattern: '/v1/collections/:name/upsert', op: 'upsert', body: true, status: 200 },
  { method: 'post', pattern: '/v1/collections/:name/query', op: 'query', body: true, status: 200 },
  { method: 'post', pattern: '/v1/collections/:name/get', op: 'get', body: true, status: 200 },
  { method: 'post', pattern: '/v1/collections/:name/delete', op: 'delete', body: true, status: 200 },
  { method: 'get', pattern: '/v1/collections/:name/count', op: 'count', body: false, status: 200 },
];

export class Server {
  readonly uws: LoadedUws;
  private readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly sockets = new Set<WebSocket<SocketData>>();
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly bodyBuffers = new BodyBuffers();
  private boundPort = 0;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly options: ServerOptions,
  ) {
    this.uws = loadUws();
    this.app = this.uws.uws.App();
    const observe = options.observe ?? (() => {});
    const onServiceError = options.onServiceError ?? (() => {});

    this.app.get('/health', (res) => {
      const status = options.status();
      const state = new ResponseState(res);
      state.sendValue(status === 'ok' ? 200 : 503, { status, uws: this.uws.backend }, 'json');
    });

    for (const r of ROUTES) this.app[r.method](r.pattern, (res, req) => this.handle(r, res, req));
    options.extraRoutes?.(this.app);

    this.app.ws<SocketData>(
      '/v1/ws',
      webSocketBehavior(ctx, { maxPayloadBytes: options.maxBodyBytes, maxInflightPerSocket: 4096, highWaterBytes: 1 << 20 }, this.sockets, observe, onServiceError, options.topics),
    );

    const knownPaths = [...ROUTES.map((r) => new RegExp(`^${r.pattern.replace(/:name/g, '[^/]+')}$`)), /^\/health$/];
    this.app.any('/*', (res, req) => {
      const state = new ResponseState(res);
      const url = req.getUrl();
      const known = knownPaths.some((p) => p.test(url));
      const err = known
        ? new HotvecError('METHOD_NOT_ALLOWED', `${req.getMethod().toUpperCase()} is not allowed on ${url}`)
        : new HotvecError('ROUTE_NOT_FOUND', `no route for ${req.getMethod().toUpperCase()} ${url}`);
      state.sendError(err, 'json', true);
    });
  }

  private handle(route: Route, res: HttpResponse, req: HttpRequest): void {
    const started = performance.now();
    const state = new ResponseState(res);
    // Everything from `req` must be read now: it is invalid after the first await.
    const contentType = req.getHeader('content-type');
    const accept = req.getHeader('accept');
    const contentLength = Number(req.getHeader('content-length') || 0);
    const rawName = route.pattern.includes(':name') ? req.getParameter(0) : undefined;
    const observe = this.options.observe;

    let reqEncoding: Encoding = 'json';
    let resEncoding: Encoding = 'json';
    this.inflight++;
    const run = async (): Promise<unknown> => {
      reqEncoding = route.body ? encodingOfContentType(contentType) : 'json';
      resEncoding = encodingOfAccept(accept, reqEncoding);
      let collection: string | undefined;
      if (rawName !== undefined) {
        try {
          collection = decodeURIComponent(rawName);
        } catch {
          throw invalid(`the collection name in the path is not valid percent-encoding: ${rawName}`);
        }
      }
      const body = route.body ? await readDecoded(state, this.options.maxBodyBytes, contentLength, reqEncoding, this.bodyBuffers) : {};
      return dispatch(this.ctx, { op: route.op, collection, body });
    };
    run().then(
      (result) => {
        state.sendValue(route.status, result, resEncoding, mayCarryEmbeddings(route.op));
        this.done(route.op, route.status, started, observe);
      },
      (err: unknown) => {
        const e = toHotvecError(err);
        if (e.kind === 'service') this.options.onServiceError?.(e);
        // A body we did not read to the end leaves the connection unusable: close it.
        const unread = route.body && (e.code === 'HOTVEC_PAYLOAD_TOO_LARGE' || e.code === 'HOTVEC_UNSUPPORTED_MEDIA_TYPE');
        state.sendError(e, resEncoding, unread);
        // A client that left half-way through its body: its time is not the server's latency.
        this.done(route.op, e.status, started, e.code === 'HOTVEC_CLIENT_CLOSED_REQUEST' ? undefined : observe);
      },
    );
  }

  private done(op: string, status: number, started: number, observe: RequestObserver | undefined): void {
    observe?.(op, 'http', status, (performance.now() - started) / 1000);
    this.inflight--;
    if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Binds the port for this server alone. uWS otherwise sets SO_REUSEPORT on Linux for a port it
   * is given, and a second server started on the same port (another hotvec with another data
   * folder, say) would bind it too and silently take half of the connections.
   */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      // (host, port, options, cb) is in uWS's native API but not in its typings.
      const listen = this.app.listen as unknown as (host: string, port: number, options: number, cb: (socket: us_listen_socket | false) => void) => void;
      listen.call(this.app, this.options.host, this.options.port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
        if (!socket) {
          reject(cannotListen(this.options.host, this.options.port));
          return;
        }
        this.listenSocket = socket;
        this.boundPort = this.uws.uws.us_socket_local_port(socket as never);
        resolve(this.boundPort);
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops accepting connections; open ones keep being answered (with 503 once not ready). */
  stopListening(): void {
    if (this.listenSocket) this.uws.uws.us_listen_socket_close(this.listenSocket);
    this.listenSocket = null;
  }

  /** Resolves when no HTTP request is in flight, or after `timeoutMs`. Returns whether drained. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.inflight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Closes every WebSocket (1001 going away). */
  closeSockets(): void {
    for (const ws of this.sockets) {
      ws.getUserData().closed = true;
      ws.end(1001, 'server stopping');
    }
    this.sockets.clear();
  }
}
