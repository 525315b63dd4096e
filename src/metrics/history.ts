/**
 * The dashboard's time series: one compact point per SLA evaluation, the last ten minutes
 * kept, so a page that subscribes gets a filled chart at once.
 */
import type { SlaStatus } from './sla.js';

export interface DashboardPoint {
  /** Epoch ms. */
  t: number;
  status: SlaStatus;
  /** Over the last 10–20 s. */
  queriesPerSec: number;
  requestsPerSec: number;
  errorsPerSec: number;
  /** Query latency over the 1-min window (ms); 0 without queries. */
  p50: number;
  p95: number;
  p99: number;
  /** Age of the oldest write not yet in Chroma (ms) and the ops waiting. */
  lagMs: number;
  lagOps: number;
  /** Cache hits / lookups since the previous point; null without lookups or without a cache. */
  hitRatio: number | null;
}

export class History {
  private readonly points: DashboardPoint[] = [];

  constructor(private readonly capacity = 600) {}

  push(p: DashboardPoint): void {
    this.points.push(p);
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity);
  }

  all(): DashboardPoint[] {
    return this.points.slice();
  }
}
