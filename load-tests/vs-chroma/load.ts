/**
 * The load generators, all reporting the same figures from per-request latencies: autocannon
 * for saturating HTTP (any server, JSON bodies built per request), a paced HTTP generator for
 * a steady rate, and a small WebSocket generator for hotvec's msgpack protocol (a fixed number
 * of requests in flight per socket).
 */
import autocannon from 'autocannon';
import { Packr } from 'msgpackr';
import WebSocket from 'ws';
import { RawHttpClient, type RequestBody } from '../lib/raw-http.js';

export interface LoadStats {
  /** Queries answered (2xx / non-error answers × queries per request). */
  ok: number;
  /** Requests that failed. */
  failed: number;
  seconds: number;
  queriesPerSecond: number;
  p50ms: number;
  p95ms: number;
  p99ms: number;
}

/** Latencies are per request; a request may carry several queries. */
function summarise(latencies: number[], failed: number, seconds: number, queriesPerRequest = 1): LoadStats {
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]! : Number.NaN);
  const ok = latencies.length * queriesPerRequest;
  return { ok, failed, seconds, queriesPerSecond: ok / seconds, p50ms: pct(50), p95ms: pct(95), p99ms: pct(99) };
}

export interface HttpLoadOptions {
  url: string;
  /** The body of the i-th request. */
  body: (i: number) => string | Buffer;
  connections: number;
  seconds: number;
  /** Requests per second over all connections; saturating when absent. */
  rate?: number;
}

export async function httpLoad(o: HttpLoadOptions): Promise<LoadStats> {
  let i = 0;
  const latencies: number[] = [];
  let failed = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.url,
        connections: o.connections,
        duration: o.seconds,
        ...(o.rate ? { overallRate: o.rate } : {}),
        requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: o.body(i++) }) }],
      },
      (err, r) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(r)),
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
      else failed++;
    });
  });
  return summarise(latencies, failed + result.errors + result.timeouts, result.duration);
}

export interface PacedLoadOptions {
  url: string;
  body: (i: number) => RequestBody;
  /** Requests per second, evenly spaced (open loop: a slow answer does not delay the next request). */
  rate: number;
  seconds: number;
}

/**
 * HTTP at a fixed rate with evenly spaced arrivals. autocannon's rate limit lets each
 * connection send its whole per-second budget at once at the start of each second, so its
 * latencies describe bursts, not a steady load. Requests go out through the lean client
 * (lib/raw-http.ts), a connection per request in flight: node:http's own CPU per request
 * (~0.33 ms here) on the server's two cores had been part of the tail measured.
 */
export async function pacedHttpLoad(o: PacedLoadOptions): Promise<LoadStats> {
  const client = new RawHttpClient(o.url);
  const latencies: number[] = [];
  let failed = 0;
  const interval = 1000 / o.rate;
  const total = Math.max(1, Math.round(o.rate * o.seconds));
  const inFlight = new Set<Promise<void>>();
  const send = (i: number): void => {
    const t0 = performance.now();
    const p = client
      .postJson(o.body(i))
      .then((status) => {
        if (status >= 200 && status < 300) latencies.push(performance.now() - t0);
        else failed++;
      })
      .catch(() => {
        failed++;
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const start = performance.now();
  try {
    for (let sent = 0; sent < total; ) {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) send(sent++);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + sent * interval - performance.now())));
    }
    await Promise.all(inFlight);
  } finally {
    client.close();
  }
  return summarise(latencies, failed, (performance.now() - start) / 1000);
}

export interface WsLoadOptions {
  url: string;
  /** The message of the i-th request, without its id (added here). */
  message: (i: number) => Record<string, unknown>;
  sockets: number;
  /** Requests in flight per socket. */
  window: number;
  seconds: number;
  /** Query vectors each message carries (1 by default): queries per second count them all. */
  queriesPerMessage?: number;
}

const packr = new Packr({ useRecords: false });

/** msgpack (binary frames) over `sockets` WebSockets, `window` requests in flight on each. */
export async function wsLoad(o: WsLoadOptions): Promise<LoadStats> {
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const sockets = await Promise.all(
    Array.from({ length: o.sockets }, async () => {
      const ws = new WebSocket(o.url);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      return ws;
    }),
  );
  const started = performance.now();
  const end = started + o.seconds * 1000;
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          const sentAt = new Map<number, number>();
          const send = (): void => {
            const id = next++;
            sentAt.set(id, performance.now());
            ws.send(packr.pack({ ...o.message(id), id }));
          };
          ws.on('message', (data: Buffer) => {
            const now = performance.now();
            const answer = packr.unpack(data) as { id: number; error?: unknown };
            const at = sentAt.get(answer.id);
            sentAt.delete(answer.id);
            if (answer.error !== undefined || at === undefined) failed++;
            else latencies.push(now - at);
            if (now < end) send();
            else if (sentAt.size === 0) resolve();
          });
          for (let w = 0; w < o.window; w++) send();
        }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const ws of sockets) ws.close();
  return summarise(latencies, failed, seconds, o.queriesPerMessage ?? 1);
}
