/**
 * Multi-window, multi-burn-rate alerting (Google SRE workbook, "Alerting on SLOs"). A burn
 * rate is how fast the error budget is spent: the share of bad events in a window divided
 * by the share the objective allows (1 = the budget lasts exactly the budget period). An
 * alert fires when both windows of a pair burn at or above the pair's rate: the long window
 * makes it significant, the short one makes it stop soon after the problem does.
 *
 * The workbook's windows assume a 30-day budget; hotvec keeps one hour, so the pairs are
 * scaled down (pages by 1/12, the ticket by 1/24 to fit the hour), keeping the workbook's
 * short = long / 12 and its burn rates:
 *
 *   severity  workbook      hotvec         burn rate
 *   page      1h  & 5m      5m  & 30s      14.4
 *   page      6h  & 30m     30m & 2m30s    6
 *   ticket    1d  & 2h      1h  & 5m       3
 */
import type { BurnWindow } from './windows.js';

export type Severity = 'page' | 'ticket';

export interface BurnRatePair {
  severity: Severity;
  long: BurnWindow;
  short: BurnWindow;
  rate: number;
}

export const BURN_RATE_PAIRS: readonly BurnRatePair[] = [
  { severity: 'page', long: '5m', short: '30s', rate: 14.4 },
  { severity: 'page', long: '30m', short: '2m30s', rate: 6 },
  { severity: 'ticket', long: '1h', short: '5m', rate: 3 },
];

/** Bad share over allowed share; 0 without events. */
export function burnRate(bad: number, total: number, budget: number): number {
  if (total <= 0 || bad <= 0) return 0;
  return bad / total / budget;
}

/** The pairs whose two windows both burn at or above the pair's rate. */
export function firingPairs(rates: Readonly<Record<BurnWindow, number>>, pairs: readonly BurnRatePair[] = BURN_RATE_PAIRS): BurnRatePair[] {
  return pairs.filter((p) => rates[p.long] >= p.rate && rates[p.short] >= p.rate);
}

export const describePair = (p: BurnRatePair): string => `${p.long} & ${p.short} ≥ ${p.rate}×`;
