/**
 * The server's own view of the SLA, `GET /v1/sla`, read after a run and set beside the client's
 * numbers. The engine reports sliding-window percentiles in milliseconds per operation:
 * `{ status, objectives: [...], latency: { '1m' | '5m' | '1h': { [op]: { count, errors, p50,
 * p95, p99, p999 } } } }`. A target without the endpoint (404) is reported as such, not an error.
 */
import type { OpName, OpStats } from './latency.js';

export interface ServerOpLatency {
  count: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  p999: number;
}

export type ServerSlaView =
  | {
      available: true;
      status: string;
      objectives: unknown[];
      latency: Record<string, Record<string, ServerOpLatency | undefined> | undefined>;
      /** The hot-query cache, when the engine has one. */
      cache?: { hitRatio: number; hits: number; misses: number };
      body: unknown;
    }
  | { available: false; httpStatus: number; reason: string };

export async function fetchServerSla(url: string): Promise<ServerSlaView> {
  let res: Response;
  try {
    res = await fetch(`${url}/v1/sla`, { headers: { accept: 'application/json' } });
  } catch (err) {
    return { available: false, httpStatus: 0, reason: `GET /v1/sla failed: ${(err as Error).message}` };
  }
  const text = await res.text();
  if (res.status === 404) return { available: false, httpStatus: 404, reason: 'the target has no GET /v1/sla (404)' };
  if (!res.ok) return { available: false, httpStatus: res.status, reason: `GET /v1/sla answered ${res.status}: ${text.slice(0, 200)}` };
  try {
    const body = JSON.parse(text) as { status?: unknown; objectives?: unknown; latency?: unknown; cache?: { hitRatio?: unknown; hits?: unknown; misses?: unknown } };
    const cache = body.cache;
    return {
      available: true,
      status: String(body.status ?? 'unknown'),
      objectives: Array.isArray(body.objectives) ? body.objectives : [],
      latency: (typeof body.latency === 'object' && body.latency !== null ? body.latency : {}) as Record<string, Record<string, ServerOpLatency>>,
      ...(cache && typeof cache.hitRatio === 'number' ? { cache: { hitRatio: cache.hitRatio, hits: Number(cache.hits), misses: Number(cache.misses) } } : {}),
      body,
    };
  } catch {
    return { available: false, httpStatus: res.status, reason: `GET /v1/sla did not answer JSON: ${text.slice(0, 200)}` };
  }
}

export interface SideBySide {
  op: OpName;
  window: string;
  client: { count: number; p50: number; p95: number; p99: number; p999: number };
  server?: ServerOpLatency;
}

/** The client's percentiles of each operation next to the server's for one window. */
export function sideBySide(byOp: Partial<Record<OpName, OpStats>>, server: ServerSlaView, window = '1m'): SideBySide[] {
  const rows: SideBySide[] = [];
  for (const [op, s] of Object.entries(byOp) as [OpName, OpStats][]) {
    const l = s.latencyMs;
    const row: SideBySide = { op, window, client: { count: s.ok + s.non2xx, p50: l.p50, p95: l.p95, p99: l.p99, p999: l.p999 } };
    const srv = server.available ? server.latency[window]?.[op] : undefined;
    if (srv) row.server = srv;
    rows.push(row);
  }
  return rows;
}

/** One line per objective, whatever fields the server gives it. */
export function describeObjective(o: unknown): string {
  if (typeof o !== 'object' || o === null) return String(o);
  const r = o as Record<string, unknown>;
  const name = r.name ?? r.id ?? r.objective ?? '?';
  const parts = [`${String(name)}: ${String(r.status ?? '?')}`];
  for (const key of ['target', 'value', 'actual', 'budgetLeft', 'budgetRemaining']) if (r[key] !== undefined) parts.push(`${key} ${JSON.stringify(r[key])}`);
  return parts.join(', ');
}
