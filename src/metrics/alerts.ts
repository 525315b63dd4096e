/**
 * Turns successive SLA evaluations into alert transitions: one event each time an
 * objective's status changes (ok → warning → breach and back), nothing while it holds. A move
 * to breach is announced at once; any other move only once the new status has held for
 * `confirm` evaluations in a row, so a value hovering at its target does not flap.
 */
import type { ObjectiveName, ObjectiveReport, SlaStatus } from './sla.js';
import { statusRank } from './sla.js';
import type { BurnWindow } from './windows.js';

export interface AlertEvent {
  objective: ObjectiveName;
  from: SlaStatus;
  to: SlaStatus;
  /** `page` on the way to breach, `ticket` to warning, `resolved` on the way down to ok, `eased` from breach to warning. */
  kind: 'page' | 'ticket' | 'eased' | 'resolved';
  /** The overall SLA status after this evaluation. */
  overall: SlaStatus;
  description: string;
  current: number;
  target: number;
  unit: 'ms' | 'ratio';
  burnRates: Record<BurnWindow, number>;
  firing: string[];
  /** Pairs burning at their rate on too few events to start firing (`--sla-min-events`). */
  withheld: string[];
  at: string;
}

export class AlertTracker {
  /** The status last announced per objective (unseen ones start at ok). */
  private readonly announced = new Map<ObjectiveName, SlaStatus>();
  private readonly pending = new Map<ObjectiveName, { status: SlaStatus; seen: number }>();

  constructor(private readonly confirm = 1) {
    if (!Number.isInteger(confirm) || confirm < 1) throw new TypeError(`confirm must be an integer >= 1, got ${confirm}`);
  }

  /** Events for the objectives whose status change is due to be announced. */
  update(objectives: readonly ObjectiveReport[], overall: SlaStatus, at: Date): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const o of objectives) {
      const from = this.announced.get(o.name) ?? 'ok';
      if (from === o.status) {
        this.pending.delete(o.name);
        continue;
      }
      const p = this.pending.get(o.name);
      const seen = p && p.status === o.status ? p.seen + 1 : 1;
      if (o.status !== 'breach' && seen < this.confirm) {
        this.pending.set(o.name, { status: o.status, seen });
        continue;
      }
      this.pending.delete(o.name);
      this.announced.set(o.name, o.status);
      const worse = statusRank(o.status) > statusRank(from);
      events.push({
        objective: o.name,
        from,
        to: o.status,
        kind: o.status === 'ok' ? 'resolved' : worse ? (o.status === 'breach' ? 'page' : 'ticket') : 'eased',
        overall,
        description: o.description,
        current: o.current,
        target: o.target,
        unit: o.unit,
        burnRates: o.burnRates,
        firing: o.firing,
        withheld: o.withheld,
        at: at.toISOString(),
      });
    }
    return events;
  }
}
