/**
 * A TCP port that was free a moment ago on `host`: the OS picks it for a listener that is closed
 * at once. Another process may take it before the caller binds it, so callers that bind it later
 * retry on "address in use".
 */
import { createServer } from 'node:net';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}
