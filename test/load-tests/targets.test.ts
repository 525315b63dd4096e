/**
 * The benchmark's verdict on each of the issue's targets: every line flips exactly at its bound,
 * a throughput ratio does not count at a recall below 0.99 or below Chroma's, and a run of
 * another setup says its verdicts are not the issue's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Summary } from '../../load-tests/vs-chroma/summary.js';
import { ISSUE_SETUP, checkTargets, formatTargets } from '../../load-tests/vs-chroma/targets.js';

interface Figures {
  recall: { hotvec: number; chroma: number };
  mainRatio: number;
  portRatio: number;
  mainCpu: number;
  portCpu: number;
  mainBatchCpu: number;
  portWsCpu: number;
  batchCpu: number;
  halfRateP99: number;
  hitP50: number;
  upserts: number;
  restart: number;
  memory: number;
}

const AT_BOUNDS: Figures = { recall: { hotvec: 0.99, chroma: 0.99 }, mainRatio: 6, portRatio: 6, mainCpu: 1.33, portCpu: 1.33, mainBatchCpu: 1.33, portWsCpu: 1.33, batchCpu: 1.33, halfRateP99: 10, hitP50: 0.5, upserts: 10_000, restart: 5, memory: 1.5 };

/** The parts of a summary the targets read. */
function summary(x: Figures): Summary {
  return {
    recall: x.recall,
    http: { ratioQps: x.mainRatio },
    queryPort: { ratioQps: x.portRatio, cpuOverBareInRun: x.portCpu, ws: { cpuOverBareInRun: x.portWsCpu }, wsBatch: { queriesPerMessage: 16, cpuOverBareInRun: x.batchCpu } },
    cpuVsBareUsearch: { ratioInRun: x.mainCpu, ratioWsBatchInRun: x.mainBatchCpu },
    halfRate: { hotvec: { p99ms: x.halfRateP99 } },
    sequential: { hotvecCacheHit: { p50ms: x.hitP50 } },
    loadVectorsPerSecond: { hotvec: x.upserts },
    restart: { readySeconds: x.restart },
    memory: { pssOverRawPlusGraphFiles: x.memory },
  } as unknown as Summary;
}

const unmet = (x: Figures): string[] => checkTargets(summary(x), ISSUE_SETUP).filter((c) => !c.met).map((c) => c.target);

test('every target is met exactly at its bound', () => {
  const checks = checkTargets(summary(AT_BOUNDS), ISSUE_SETUP);
  assert.equal(checks.length, 12);
  assert.deepEqual(unmet(AT_BOUNDS), []);
  const lines = formatTargets(checks, ISSUE_SETUP).split('\n');
  assert.equal(lines[0], "the issue's targets, as this run measured them:");
  assert.match(lines[1]!, /^met {4} {2}HTTP queries\/s ≥ 6× Chroma's, main port .*recall@10.*: 6\.000×/);
});

test('each figure past its bound fails its own target and no other', () => {
  const past: Array<[Partial<Figures>, RegExp]> = [
    [{ mainRatio: 5.99 }, /main port \(median/],
    [{ portRatio: 5.99 }, /query port \(median/],
    [{ mainCpu: 1.34 }, /main port, HTTP JSON/],
    [{ portCpu: 1.34 }, /query port, HTTP JSON/],
    [{ mainBatchCpu: 1.34 }, /main port, WebSocket msgpack, 16 queries/],
    [{ portWsCpu: 1.34 }, /query port, WebSocket msgpack, 1 query/],
    [{ batchCpu: 1.3306 }, /query port, WebSocket msgpack, 16 queries/],
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
  assert.match(formatTargets(checkTargets(summary({ ...AT_BOUNDS, restart: 9 }), ISSUE_SETUP), ISSUE_SETUP), /NOT MET {2}restart .*: 9\.000 s/);
  // The verdict goes with the printed figure: 1.3304 prints as 1.330 and meets ≤ 1.33; 1.3306 prints as 1.331 and does not.
  const line = (batchCpu: number): string => formatTargets(checkTargets(summary({ ...AT_BOUNDS, batchCpu }), ISSUE_SETUP), ISSUE_SETUP).split('\n').find((l) => l.includes('16 queries per message') && l.includes('query port'))!;
  assert.match(line(1.3304), /^met .*: 1\.330×$/);
  assert.match(line(1.3306), /^NOT MET .*: 1\.331×$/);
});

test('throughput does not count at a recall below 0.99 or below Chroma', () => {
  for (const recall of [{ hotvec: 0.985, chroma: 0.98 }, { hotvec: 0.995, chroma: 0.998 }]) {
    const failed = unmet({ ...AT_BOUNDS, mainRatio: 9, portRatio: 9, recall });
    assert.equal(failed.length, 2, JSON.stringify(recall));
    assert.ok(failed.every((t) => t.startsWith('HTTP queries/s')));
  }
});

test('a run of another setup is marked as such, and its recall line names its k', () => {
  const setup = { ...ISSUE_SETUP, n: 20_000, k: 5 };
  const text = formatTargets(checkTargets(summary(AT_BOUNDS), setup), setup);
  assert.match(text.split('\n')[0]!, /^the issue's targets are for 60000 × 784, k 10, fsync always; this run \(20000 × 784, k 5, fsync always\) is not that setup/);
  assert.match(text, /recall@5/);
  const unsynced = { ...ISSUE_SETUP, fsync: 'never' };
  assert.match(formatTargets(checkTargets(summary(AT_BOUNDS), unsynced), unsynced), /is not that setup[\s\S]*durable upserts ≥ 10,000 vectors\/s \(fsync never\)/);
});
