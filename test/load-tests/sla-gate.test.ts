/**
 * The SLA gate of `npm run loadtest` against the real engine: an impossible target exits 1, a
 * lenient one exits 0, bad usage exits 2; and the gate's arithmetic on its own.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OpStats } from '../../load-tests/lib/latency.js';
import type { RunResult } from '../../load-tests/lib/run.js';
import { checkSla, DEFAULT_SLA } from '../../load-tests/lib/sla-check.js';
import { useEngine } from '../helpers/engines.js';
import { explain, runCli } from './run-cli.js';

function stats(p95: number, p99: number, ok: number, failed = 0): OpStats {
  const l = { p50: p95 / 2, p95, p99, p999: p99, max: p99, mean: p95 / 2 };
  return { count: ok + failed, ok, non2xx: failed, errors: 0, ratePerSecond: 0, latencyMs: l, serviceMs: l, spectrum: [] };
}

function result(byOp: RunResult['byOp'], overall: OpStats): RunResult {
  return { byOp, overall } as RunResult;
}

describe('gate arithmetic', () => {
  test('latency targets apply to queries, the error ratio to every request', () => {
    const q = stats(4, 9, 1000);
    const u = stats(40, 90, 100, 1); // slow upserts do not fail a query SLA
    const v = checkSla(result({ query: q, upsert: u }, stats(4, 9, 1100, 1)), DEFAULT_SLA);
    assert.equal(v.op, 'query');
    assert.equal(v.pass, true, JSON.stringify(v.checks));
    const slow = checkSla(result({ query: stats(4, 11, 1000) }, stats(4, 11, 1000)), DEFAULT_SLA);
    assert.equal(slow.pass, false);
    assert.deepEqual(slow.checks.filter((c) => !c.pass).map((c) => c.objective), ['query p99 latency']);
    const errors = checkSla(result({ query: stats(1, 2, 998, 2) }, stats(1, 2, 998, 2)), DEFAULT_SLA);
    assert.deepEqual(errors.checks.filter((c) => !c.pass).map((c) => c.objective), ['error ratio'], '0.2% errors > 0.1%');
  });

  test('an upsert-only run gates upserts; a run with no answers fails', () => {
    assert.equal(checkSla(result({ upsert: stats(3, 6, 10) }, stats(3, 6, 10)), DEFAULT_SLA).op, 'upsert');
    const none = checkSla(result({ query: stats(0, 0, 0, 5) }, stats(0, 0, 0, 5)), DEFAULT_SLA);
    assert.equal(none.pass, false);
  });
});

describe('exit status against the real engine', () => {
  const engine = useEngine();
  const common = (): string[] => ['--url', engine.hv.url, '--n', '500', '--dim', '16', '--rate', '100', '--duration', '2', '--quiet'];

  test('an impossible target exits 1', async () => {
    const run = await runCli([...common(), '--sla-p99-ms', '0.001']);
    assert.equal(run.code, 1, explain(run));
    assert.match(run.stdout, /query p99 latency\s+≤ 0.001 ms\s+\S+ ms\s+FAIL/);
    assert.match(run.stdout, /SLA FAILED/);
  });

  test('a lenient target exits 0', async () => {
    const run = await runCli([...common(), '--sla-p99-ms', '60000', '--sla-p95-ms', '60000', '--sla-error-ratio', '0.5']);
    assert.equal(run.code, 0, explain(run));
    assert.match(run.stdout, /SLA met/);
    assert.match(run.stdout, /^query\s+200\s/m, 'rate 100 for 2 s is 200 requests');
  });

  test('the WebSocket transport and the mixed scenario gate the same way', async () => {
    const run = await runCli([...common(), '--transport', 'ws', '--scenario', 'mixed', '--read-ratio', '0.8', '--sla-p99-ms', '60000', '--sla-p95-ms', '60000', '--sla-error-ratio', '0']);
    assert.equal(run.code, 0, explain(run));
    assert.match(run.stdout, /^query\s+\d+/m);
    assert.match(run.stdout, /^upsert\s+\d+/m);
    assert.match(run.stdout, /^all\s+200\s/m);
  });

  test('bad usage exits 2 and names the flag', async () => {
    const run = await runCli(['--url', engine.hv.url, '--transport', 'pigeon']);
    assert.equal(run.code, 2, explain(run));
    assert.match(run.stderr, /--transport must be one of http, ws/);
  });
});
