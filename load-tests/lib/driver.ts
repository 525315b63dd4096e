/**
 * What a transport driver (HTTP through autocannon, WebSocket through `ws`) is given and what it
 * hands back. A driver sends the workload's requests when the schedule says so, records every
 * outcome in the recorder, and reports when it has gone idle.
 */
import type { LatencyRecorder } from './latency.js';
import type { Workload } from './scenarios.js';

export type Transport = 'http' | 'ws';
export const TRANSPORTS: readonly Transport[] = ['http', 'ws'];

export interface DriverOptions {
  /** Base URL of the target, `http://host:port`. */
  url: string;
  workload: Workload;
  recorder: LatencyRecorder;
  /** Offered requests/s over all operations; 0 = closed model. */
  rate: number;
  /** When the first request is due (`performance.now()` clock). */
  startMs: number;
  durationMs: number;
  /** HTTP: keep-alive connections. WebSocket: sockets. */
  connections: number;
  /** WebSocket closed model: requests kept in flight per socket. */
  inflight: number;
}

export interface ActiveRun {
  inflight(): number;
  /** Requests due but not sent yet (open model). */
  backlog(): number;
  /** Resolves once the schedule is over and nothing is in flight. */
  readonly idle: Promise<void>;
  /**
   * Stops sending and closes the connections. Requests still in flight, and requests due but
   * never sent, are recorded as failed.
   */
  close(): Promise<void>;
}

export type Driver = (options: DriverOptions) => Promise<ActiveRun>;

/** A promise with its resolver, for `idle`. */
export function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
