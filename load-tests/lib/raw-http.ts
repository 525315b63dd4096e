/**
 * A lean HTTP/1.1 client for load that shares the server's cores: keep-alive sockets with one
 * request in flight on each, the answer framed by its Content-Length (or chunked encoding) and
 * otherwise not parsed beyond its status. node:http spent ~0.33 ms of CPU per 15 KB JSON query
 * here (its parser, IncomingMessage and stream machinery), a third of a core at 1,000
 * requests/s taken from the server under test.
 *
 * A body may come in pieces (buffers the caller keeps, e.g. slices of one large buffer of
 * prepared JSON): they are written as they are, one writev with the head, and nothing the size
 * of the body is allocated per request (see QueryStream in vs-chroma.ts for why that matters).
 */
import { connect, type Socket } from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');

/** A request body: a string (UTF-8), or pieces written one after another. */
export type RequestBody = string | readonly Uint8Array[];

/** One keep-alive connection; `send` must not be called again before its promise settles. */
class Connection {
  private readonly socket: Socket;
  private pending: { resolve: (status: number) => void; reject: (err: Error) => void } | undefined;
  private buffered: Buffer = Buffer.alloc(0);
  /** Status and framing of the answer being read, once its head has arrived. */
  private status = 0;
  private remaining = -1;
  private chunked = false;
  /** The server will close after this answer: the connection is not reused. */
  closing = false;
  failed = false;

  /**
   * `onClose` runs once the socket is gone, whoever closed it (an idle one must leave the pool).
   * A request that sees no byte of its answer for `timeoutMs` fails and its connection is
   * closed (an idle connection is left alone).
   */
  constructor(host: string, port: number, timeoutMs: number, onClose: () => void) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.setTimeout(timeoutMs, () => {
      if (this.pending) this.socket.destroy(new Error(`no answer within ${timeoutMs} ms`));
    });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    const fail = (err: Error): void => {
      this.failed = true;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(err);
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => {
      fail(new Error('connection closed before the answer'));
      onClose();
    });
  }

  /** Writes the head and the body's pieces as one writev. */
  send(head: string, body: RequestBody): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.status = 0;
      this.socket.cork();
      this.socket.write(head, 'latin1');
      if (typeof body === 'string') this.socket.write(body, 'utf8');
      else for (const piece of body) this.socket.write(piece);
      this.socket.uncork();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(data: Buffer): void {
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    try {
      for (;;) {
        if (this.status === 0 && !this.readHead()) return;
        if (this.chunked ? !this.readChunks() : this.buffered.length < this.remaining) return;
        if (!this.chunked) this.buffered = this.buffered.subarray(this.remaining);
        const p = this.pending;
        const status = this.status;
        this.pending = undefined;
        this.status = 0;
        p?.resolve(status);
        if (this.buffered.length === 0) return;
      }
    } catch (err) {
      // An answer this client cannot frame: the connection is out of step, give it up.
      this.socket.destroy(err as Error);
    }
  }

  /** Parses the status line and the framing headers; false until the whole head of a final answer is in. */
  private readHead(): boolean {
    for (;;) {
      const end = this.buffered.indexOf(CRLF2);
      if (end < 0) return false;
      const head = this.buffered.toString('latin1', 0, end);
      this.buffered = this.buffered.subarray(end + 4);
      const status = Number(head.slice(9, 12));
      if (!/^HTTP\/1\.[01] \d{3}/.test(head)) throw new Error(`not an HTTP/1.x answer: ${JSON.stringify(head.slice(0, 40))}`);
      // An interim answer (100 Continue, 103 Early Hints): the final one follows.
      if (status >= 100 && status < 200) continue;
      this.status = status;
      const lower = head.toLowerCase();
      const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
      this.chunked = /\r\ntransfer-encoding:[^\r]*chunked/.test(lower);
      this.closing = /\r\nconnection:\s*close/.test(lower);
      if (status === 204 || status === 304) this.remaining = 0;
      else if (this.chunked) this.remaining = 0;
      else if (length) this.remaining = Number(length[1]);
      else throw new Error(`a ${status} answer with neither a Content-Length nor chunked encoding (read to the close): not supported`);
      return true;
    }
  }

  /** Consumes whole chunks; true once the last (zero-length) chunk and its trailer are in. */
  private readChunks(): boolean {
    for (;;) {
      const line = this.buffered.indexOf('\r\n');
      if (line < 0) return false;
      const sizeText = this.buffered.toString('latin1', 0, line).split(';', 1)[0]!.trim();
      if (!/^[0-9a-fA-F]+$/.test(sizeText)) throw new Error(`bad chunk size line ${JSON.stringify(sizeText.slice(0, 20))}`);
      const size = parseInt(sizeText, 16);
      if (size === 0) {
        // The trailer section ends with an empty line; with no trailers it is the CRLF right after the size line.
        const trailer = this.buffered.indexOf('\r\n', line + 2);
        if (trailer < 0) return false;
        if (trailer === line + 2) {
          this.buffered = this.buffered.subarray(trailer + 2);
          return true;
        }
        const end = this.buffered.indexOf(CRLF2, line);
        if (end < 0) return false;
        this.buffered = this.buffered.subarray(end + 4);
        return true;
      }
      if (this.buffered.length < line + 2 + size + 2) return false;
      this.buffered = this.buffered.subarray(line + 2 + size + 2);
    }
  }
}

export interface RawHttpClientOptions {
  /** A request fails when its answer stalls this long (no byte arrives); default 30 s. */
  timeoutMs?: number;
  /**
   * Connections (requests in flight) at most; a request beyond them fails at once instead of
   * opening one more. Default 1,024: a stalled server under a paced load would otherwise take
   * a new connection per request until the process runs out of file descriptors.
   */
  maxConnections?: number;
}

export class RawHttpClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;
  private readonly hostHeader: string;
  private readonly timeoutMs: number;
  private readonly maxConnections: number;

  /** A client for POSTs of JSON to one URL. */
  constructor(url: string, options: RawHttpClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxConnections = options.maxConnections ?? 1024;
    if (!(this.timeoutMs > 0) || !Number.isInteger(this.maxConnections) || this.maxConnections < 1) {
      throw new RangeError(`timeoutMs must be > 0 and maxConnections an integer ≥ 1, got ${this.timeoutMs} and ${this.maxConnections}`);
    }
    const u = new URL(url);
    this.host = u.hostname.replace(/^\[(.*)\]$/, '$1'); // an IPv6 literal without its brackets
    this.port = Number(u.port || 80);
    this.path = u.pathname + u.search;
    this.hostHeader = u.host;
  }

  /**
   * POSTs `body` as JSON; resolves with the status once the whole answer has arrived. Pieces
   * must not change after being passed: a server may answer before it has read the body, and
   * the write can still be in progress when the promise settles.
   */
  postJson(body: RequestBody): Promise<number> {
    let bytes = 0;
    if (typeof body === 'string') bytes = Buffer.byteLength(body);
    else for (const piece of body) bytes += piece.byteLength;
    const head = `POST ${this.path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\ncontent-type: application/json\r\ncontent-length: ${bytes}\r\n\r\n`;
    let c = this.idle.pop();
    if (!c) {
      if (this.all.size >= this.maxConnections) {
        return Promise.reject(new Error(`${this.maxConnections} requests already in flight (maxConnections)`));
      }
      const created: Connection = new Connection(this.host, this.port, this.timeoutMs, () => this.drop(created));
      this.all.add(created);
      c = created;
    }
    const conn = c;
    return conn.send(head, body).then(
      (status) => {
        if (conn.closing || conn.failed) this.drop(conn);
        else this.idle.push(conn);
        return status;
      },
      (err: unknown) => {
        this.drop(conn);
        throw err;
      },
    );
  }

  /** Connections opened so far and still open (one per request that was in flight at once). */
  get connections(): number {
    return this.all.size;
  }

  close(): void {
    for (const c of this.all) c.destroy();
    this.all.clear();
    this.idle.length = 0;
  }

  private drop(c: Connection): void {
    c.destroy();
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }
}
