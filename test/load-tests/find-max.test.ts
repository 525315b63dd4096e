/**
 * `--find-max`: the rate search on its own (a fake system that meets the SLA up to a known
 * rate), then the command against the real engine.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { findMax } from '../../load-tests/lib/find-max.js';
import type { LoadReport } from '../../load-tests/lib/report.js';
import { useEngine } from '../helpers/engines.js';
import { tempDir } from '../helpers/hotvec.js';
import { explain, runCli } from './run-cli.js';

const capacity = (limit: number) => async (rate: number) => ({ pass: rate <= limit, result: rate });

describe('rate search', () => {
  test('climbs geometrically, then bisects to within a few percent of the limit', async () => {
    const { best, steps } = await findMax({ start: 200, factor: 1.5, bisections: 5, maxRate: 100_000 }, capacity(730));
    assert.deepEqual(steps.slice(0, 5).map((s) => s.rate), [200, 300, 450, 675, 1013]);
    assert.ok(best !== undefined && best <= 730 && best >= 700, `best ${best}`);
    assert.ok(steps.every((s) => s.pass === s.rate <= 730));
    assert.ok(steps.length <= 11, `${steps.length} steps`);
  });

  test('a first step that fails comes down until one passes', async () => {
    const { best, steps } = await findMax({ start: 1000, factor: 2, bisections: 2, maxRate: 100_000 }, capacity(300));
    assert.deepEqual(steps.slice(0, 3).map((s) => [s.rate, s.pass]), [[1000, false], [500, false], [250, true]]);
    assert.ok(best !== undefined && best >= 250 && best <= 300);
  });

  test('stops at the limit, and reports nothing when no rate passes', async () => {
    const capped = await findMax({ start: 100, factor: 2, bisections: 3, maxRate: 500 }, capacity(10_000));
    assert.equal(capped.best, 500);
    assert.ok(capped.steps.every((s) => s.rate <= 500));
    const none = await findMax({ start: 100, factor: 2, bisections: 3, maxRate: 500 }, capacity(0));
    assert.equal(none.best, undefined);
    assert.deepEqual(none.steps.map((s) => s.rate), [100, 50, 25, 12], 'down to a tenth of the start, no further');
  });
});

describe('--find-max against the real engine', () => {
  const engine = useEngine();
  let dir: string;

  before(async () => {
    dir = await tempDir('hotvec-findmax-');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a lenient SLA climbs to the limit; the report lists every step', async () => {
    const json = `${dir}/max.json`;
    const run = await runCli([
      '--url', engine.hv.url, '--n', '500', '--dim', '16', '--find-max', '--find-max-start', '40', '--find-max-factor', '2',
      '--find-max-limit', '150', '--step-duration', '1', '--warmup', '0', '--sla-p99-ms', '60000', '--sla-p95-ms', '60000', '--sla-error-ratio', '0.5',
      '--json', json, '--chart', `${dir}/max.svg`, '--quiet',
    ]);
    assert.equal(run.code, 0, explain(run));
    const report = JSON.parse(await readFile(json, 'utf8')) as LoadReport;
    assert.deepEqual(report.findMax!.steps.map((s) => [s.rate, s.pass]), [[40, true], [80, true], [150, true]]);
    assert.equal(report.findMax!.best, 150);
    assert.match(run.stdout, /highest rate meeting the SLA: 150 req\/s/);
    assert.match(await readFile(`${dir}/max.svg`, 'utf8'), /max 150\/s/);
  });

  test('an impossible SLA finds no rate and exits 1', async () => {
    const run = await runCli(['--url', engine.hv.url, '--n', '500', '--dim', '16', '--find-max', '--find-max-start', '4', '--find-max-factor', '2', '--step-duration', '1', '--warmup', '0', '--sla-p99-ms', '0.001', '--quiet']);
    assert.equal(run.code, 1, explain(run));
    assert.match(run.stdout, /no rate met the SLA/);
  });
});
