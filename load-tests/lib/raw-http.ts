/**
 * A lean HTTP/1.1 client for load that shares the server's cores: keep-alive sockets with one
 * request in flight on each, the request written as one buffer, the answer framed by its
 * Content-Length (or chunked encoding) and otherwise not parsed beyond its status. node:http
 * spent ~0.33 ms of CPU per 15 KB JSON query here (its parser, IncomingMessage and stream
 * machinery), a third of a core at 1,000 requests/s taken from the server under test.
 */
import { connect, type Socket } from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');

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

  /** `onClose` runs once the socket is gone, whoever closed it (an idle one must leave the pool). */
  constructor(host: string, port: number, onClose: () => void) {
    this.socket = connect({ host, port, noDelay: true });
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

  send(request: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.status = 0;
      this.socket.write(request);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(data: Buffer): void {
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
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
  }

  /** Parses the status line and the framing headers; false until the whole head is in. */
  private readHead(): boolean {
    const end = this.buffered.indexOf(CRLF2);
    if (end < 0) return false;
    const head = this.buffered.toString('latin1', 0, end);
    this.buffered = this.buffered.subarray(end + 4);
    this.status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
    this.chunked = /\r\ntransfer-encoding:[^\r]*chunked/.test(lower);
    this.remaining = length ? Number(length[1]) : 0;
    this.closing = /\r\nconnection:\s*close/.test(lower);
    return true;
  }

  /** Consumes whole chunks; true once the last (zero-length) chunk and its trailer are in. */
  private readChunks(): boolean {
    for (;;) {
      const line = this.buffered.indexOf('\r\n');
      if (line < 0) return false;
      const size = parseInt(this.buffered.toString('latin1', 0, line), 16);
      if (size === 0) {
        const trailer = this.buffered.indexOf(CRLF2, line);
        if (trailer < 0) return false;
        this.buffered = this.buffered.subarray(trailer + 4);
        return true;
      }
      if (this.buffered.length < line + 2 + size + 2) return false;
      this.buffered = this.buffered.subarray(line + 2 + size + 2);
    }
  }
}

export class RawHttpClient {
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;
  private readonly hostHeader: string;

  /** A client for POSTs of JSON to one URL. */
  constructor(url: string) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.path = u.pathname + u.search;
    this.hostHeader = u.host;
  }

  /** POSTs `body` as JSON; resolves with the status once the whole answer has arrived. */
  postJson(body: string): Promise<number> {
    const bytes = Buffer.byteLength(body);
    const head = `POST ${this.path} HTTP/1.1\r\nhost: ${this.hostHeader}\r\ncontent-type: application/json\r\ncontent-length: ${bytes}\r\n\r\n`;
    const request = Buffer.allocUnsafe(head.length + bytes);
    request.write(head, 0, 'latin1');
    request.write(body, head.length, 'utf8');
    let c = this.idle.pop();
    if (!c) {
      const created: Connection = new Connection(this.host, this.port, () => this.drop(created));
      this.all.add(created);
      c = created;
    }
    const conn = c;
    return conn.send(request).then(
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
