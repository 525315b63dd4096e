/**
 * Holds the query port from the moment the engine settles on it until the workers listen on it.
 *
 * The port is chosen (`--query-port 0`) or checked free (an explicit one) before the managed
 * Chroma starts, and the workers bind it seconds later, once recovery is under way. Without a
 * hold another process could take it in between — the managed Chroma, which picks a free port
 * of its own, among them — and the start would fail. The hold is a uWS listener on the main
 * thread with SO_REUSEPORT (uWS's default for a port it is given), which the workers' listeners
 * join; the engine lets it go as soon as the first one listens (a connection still in the
 * hold's queue then is reset, so the sooner the better). Until then a connection the kernel hands
 * it is answered `503 HOTVEC_NOT_READY`, as a worker answers while the engine recovers.
 */
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { HotvecError } from '../errors.js';
import { freePort } from '../platform/free-port.js';
import { ResponseState } from '../server/http.js';
import { cannotListen } from '../server/port-probe.js';
import { closeApp, type LoadedUws } from '../server/uws.js';

/** Ports `take` tries for port 0. */
const FREE_PORT_TRIES = 5;

export class PortHold {
  private app: TemplatedApp | undefined;
  private socket: us_listen_socket | null;

  private constructor(
    private readonly uws: LoadedUws,
    app: TemplatedApp,
    socket: us_listen_socket,
    /** The port held (the one the OS picked when asked for 0). */
    readonly port: number,
  ) {
    this.app = app;
    this.socket = socket;
  }

  /**
   * Listens on `host:port`, letting other SO_REUSEPORT listeners of this user join. For port 0
   * it takes a port the OS just gave out (uWS sets SO_REUSEPORT only on a port it is given, not
   * on one it asks the OS for): a few tries, in case another process takes that port in the
   * microseconds between.
   */
  static async take(uws: LoadedUws, host: string, port: number): Promise<PortHold> {
    if (port !== 0) {
      const hold = await PortHold.listen(uws, host, port);
      if (!hold) throw cannotListen(host, port);
      return hold;
    }
    for (let attempt = 1; attempt <= FREE_PORT_TRIES; attempt++) {
      // freePort's own failure (a host not on this machine) is not worth another try.
      const hold = await PortHold.listen(uws, host, await freePort(host));
      if (hold) return hold;
    }
    throw new HotvecError('INVALID_CONFIG', `cannot listen on ${host}: ${FREE_PORT_TRIES} free ports in a row were taken before they could be bound`);
  }

  /** A hold on `host:port`, or undefined when the port cannot be bound. */
  private static listen(uws: LoadedUws, host: string, port: number): Promise<PortHold | undefined> {
    const app = uws.uws.App();
    app.any('/*', (res) => new ResponseState(res).sendError(new HotvecError('NOT_READY', 'hotvec is starting; retry shortly'), 'json', true));
    return new Promise((resolve) => {
      app.listen(host, port, (socket) => {
        if (!socket) {
          closeApp(app);
          resolve(undefined);
          return;
        }
        resolve(new PortHold(uws, app, socket, uws.uws.us_socket_local_port(socket as never)));
      });
    });
  }

  /** Stops listening and closes any connection it took. Idempotent. */
  release(): void {
    if (this.socket) this.uws.uws.us_listen_socket_close(this.socket);
    this.socket = null;
    if (this.app) closeApp(this.app);
    this.app = undefined;
  }
}
