/**
 * A port another process holds is found before the slow part of a start (the managed Chroma):
 * the port is bound with a plain socket — without SO_REUSEPORT, so a uWS listener that lets
 * others share its port is found too — and let go at once. The server's own bind can still lose
 * a race for the port afterwards; it fails with the same error.
 */
import { createServer, isIP } from 'node:net';
import { HotvecError } from '../errors.js';

const REASONS: Record<string, string> = {
  EADDRINUSE: 'port in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied',
};

/** The error for a host and port hotvec cannot listen on; `code` is the system's reason when known. */
export function cannotListen(host: string, port: number, code?: string): HotvecError {
  const reason = (code && REASONS[code]) ?? 'port in use or address not available';
  return new HotvecError('INVALID_CONFIG', `cannot listen on ${host}:${port} (${reason})`);
}

/**
 * Resolves when `host:port` can be bound now; port 0 (any free port) always can. A host name
 * is left to the server's own bind, which may try each address the name has (this probe would
 * try only the first).
 */
export function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0 || isIP(host) === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => reject(cannotListen(host, port, err.code)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
