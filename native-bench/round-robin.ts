/**
 * Timing several contenders fairly on a machine whose speed drifts: each gets one pass to
 * calibrate how many passes make a sample of at least `sampleMs`, then the samples are taken
 * contender after contender, `repeats` times over, so drift spreads over all of them.
 */

export interface PassSample {
  /** Items (e.g. queries) per second of wall time. */
  perSecond: number;
  /** Process CPU time (all threads) per item, ms. */
  cpuMsPerItem: number;
}

/** `passes[i]` runs contender i once over `itemsPerPass` items; returns each contender's samples. */
export function roundRobin(passes: ReadonlyArray<() => void>, itemsPerPass: number, repeats: number, sampleMs: number): PassSample[][] {
  const perSample = passes.map((pass) => {
    const start = performance.now();
    pass();
    return Math.max(1, Math.ceil(sampleMs / (performance.now() - start)));
  });
  const samples: PassSample[][] = passes.map(() => []);
  for (let r = 0; r < repeats; r++) {
    passes.forEach((pass, i) => {
      const n = perSample[i]!;
      const cpu = process.cpuUsage();
      const start = performance.now();
      for (let p = 0; p < n; p++) pass();
      const wallMs = performance.now() - start;
      const used = process.cpuUsage(cpu);
      const items = n * itemsPerPass;
      samples[i]!.push({ perSecond: (items * 1000) / wallMs, cpuMsPerItem: (used.user + used.system) / 1000 / items });
    });
  }
  return samples;
}
