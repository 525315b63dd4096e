/**
 * Time is cut into 10-second slots; every sliding window is a whole number of them, the
 * current (partial) slot included, so "1m" covers the last 50–60 s and moves in 10-s steps.
 * One hour (360 slots) is the longest anything is kept.
 */
export const SLOT_MS = 10_000;
export const SLOTS_PER_MINUTE = 6;
/** Slots kept for counts: one hour. */
export const HOUR_SLOTS = 360;

/** Windows over which latency percentiles are reported. */
export const LATENCY_WINDOWS = { '1m': 6, '5m': 30, '1h': 360 } as const;
export type LatencyWindow = keyof typeof LATENCY_WINDOWS;
export const LATENCY_WINDOW_NAMES = Object.keys(LATENCY_WINDOWS) as LatencyWindow[];

/** Windows over which burn rates are evaluated (see burn-rate.ts for the pairs). */
export const BURN_WINDOWS = { '30s': 3, '2m30s': 15, '5m': 30, '30m': 180, '1h': 360 } as const;
export type BurnWindow = keyof typeof BURN_WINDOWS;
export const BURN_WINDOW_NAMES = Object.keys(BURN_WINDOWS) as BurnWindow[];
