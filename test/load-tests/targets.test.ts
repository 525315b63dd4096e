/**
 * The benchmark's verdict on each of the targets: every line flips exactly at its bound,
 * and a throughput ratio does not count at a recall below 0.99 or below Chroma's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Summary } from '../../load-tests/vs-chroma/summary.js';
import { checkTargets, formatTargets } from '../../load-tests/vs-chroma/targets.js';

interface Figures {
  recall: { hotvec: number; chroma: number };
  mainRatio: number;
  portRatio: number;
  mainCpu: number;
  portCpu: number;
  batchCpu: number;
  halfRateP99: number;
  hitP50: number;
  upserts: number;
  restart: number;
  memory: number;
}

const AT_BOUNDS: Figures = { recall: { hotvec: 0.99, chroma: 0.99 }, mainRatio: 6, portRatio: 6, mainCpu: 1.33, portCpu: 1.33, batchCpu: 1.33, halfRateP99: 10, hitP50: 0.5, upserts: 10_000, restart: 5, memory: 1.5 };

/** The parts of a summary the targets read. */
function summary(x: Figures): Summary {
  return {
    recall: x.recall,
    http: { ratioQps: x.mainRatio },
    queryPort: { ratioQps: x.portRatio, cpuOverBareInRun: x.portCpu, wsBatch: { queriesPerMessage: 16, cpuOverBareInRun: x.batchCpu } },
    cpuVsBareUsearch: { ratioInRun: x.mainCpu },
    halfRate: { hotvec: { p99ms: x.halfRateP99 } },
    sequential: { hotvecCacheHit: { p50ms: x.hitP50 } },
    loadVectorsPerSecond: { hotvec: x.upserts },
    restart: { readySeconds: x.restart },
    memory: { pssOverRawPlusGraphFiles: x.memory },
  } as unknown as Summary;
}

const unmet = (x: Figures): string[] => checkTargets(summary(x)).filter((c) => !c.met).map((c) => c.target);

test('every target is met exactly at its bound', () => {
  const checks = checkTargets(summary(AT_BOUNDS));
  assert.equal(checks.length, 10);
  assert.deepEqual(unmet(AT_BOUNDS), []);
  assert.match(formatTargets(checks), /^met {4} {2}HTTP queries\/s ≥ 6× Chroma's, main port/);
});

test('each figure past its bound fails its own target and no other', () => {
  const past: Array<[Partial<Figures>, RegExp]> = [
    [{ mainRatio: 5.99 }, /main port \(medians/],
    [{ portRatio: 5.99 }, /query port \(medians/],
    [{ mainCpu: 1.34 }, /main port, HTTP JSON/],
    [{ portCpu: 1.34 }, /query port, HTTP JSON/],
    [{ batchCpu: 1.34 }, /16 queries per message/],
    [{ halfRateP99: 10.1 }, /p99 ≤ 10 ms/],
    [{ hitP50: 0.51 }, /cache hits/],
    [{ upserts: 9_999 }, /upserts/],
    [{ restart: 5.01 }, /restart/],
    [{ memory: 1.51 }, /memory/],
  ];
  for (const [change, target] of past) {
    const failed = unmet({ ...AT_BOUNDS, ...change });
    assert.equal(failed.length, 1, `${JSON.stringify(change)}: ${failed.join(' | ')}`);
    assert.match(failed[0]!, target);
  }
  assert.match(formatTargets(checkTargets(summary({ ...AT_BOUNDS, restart: 9 }))), /NOT MET {2}restart .*: 9\.00 s/);
});

test('throughput does not count at a recall below 0.99 or below Chroma', () => {
  for (const recall of [{ hotvec: 0.985, chroma: 0.98 }, { hotvec: 0.995, chroma: 0.998 }]) {
    const failed = unmet({ ...AT_BOUNDS, mainRatio: 9, portRatio: 9, recall });
    assert.equal(failed.length, 2, JSON.stringify(recall));
    assert.ok(failed.every((t) => t.startsWith('HTTP queries/s')));
  }
});
