/**
 * What a run leaves behind: the JSON report, and a latency chart (SVG, or HTML with the data
 * inline) that is well formed and self-contained: no scripts, styles, fonts or images fetched
 * from anywhere. Runs the command with --start (the engine and its managed Chroma in a
 * temporary folder, stopped afterwards).
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { renderSvg } from '../../load-tests/lib/chart.js';
import type { LoadReport } from '../../load-tests/lib/report.js';
import { tempDir } from '../helpers/hotvec.js';
import { explain, runCli } from './run-cli.js';

let dir: string;

before(async () => {
  dir = await tempDir('hotvec-report-');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Elements open and close in order (enough to catch a broken generator). */
function assertBalanced(doc: string): void {
  const stack: string[] = [];
  for (const m of doc.replace(/<!doctype[^>]*>/i, '').matchAll(/<(\/?)([a-zA-Z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing || name === 'meta') continue;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], 'unclosed elements');
}

function assertSelfContained(doc: string): void {
  // The report data rides along as an inert JSON block; everything else must not reach out.
  const rest = doc.replace(/<script type="application\/json" id="report">[\s\S]*?<\/script>/, '');
  assert.doesNotMatch(rest, /<script/i, 'no executable scripts');
  assert.doesNotMatch(rest, /\b(src|href|xlink:href|srcset)\s*=/i, 'no linked resources');
  assert.doesNotMatch(rest, /url\(|@import|<link|<img|<iframe|<object|<embed/i, 'no fetched styles, fonts or images');
  const urls = new Set(rest.match(/https?:\/\/[^\s"'<>)]*/g) ?? []);
  assert.deepEqual([...urls].filter((u) => u !== 'http://www.w3.org/2000/svg'), [], 'only the SVG namespace may appear');
}

test('--start run writes the JSON report and a self-contained HTML chart; the SVG is self-contained too', async () => {
  const json = `${dir}/out/report.json`;
  const html = `${dir}/out/chart.html`;
  const run = await runCli(['--start', '--n', '1000', '--dim', '32', '--rate', '100', '--duration', '2', '--sla-p99-ms', '60000', '--sla-p95-ms', '60000', '--json', json, '--chart', html]);
  assert.equal(run.code, 0, explain(run));
  assert.match(run.stderr, /\[\s+1s\]\s+\d+ req\/s \| p99 so far/, 'live progress once a second on stderr');

  const report = JSON.parse(await readFile(json, 'utf8')) as LoadReport;
  assert.equal(report.tool, 'hotvec-loadtest');
  assert.equal(report.target.startedByTool, true);
  assert.deepEqual([report.dataset.n, report.dataset.dim, report.dataset.metric], [1000, 32, 'l2']);
  const r = report.run!;
  assert.equal(r.model, 'open');
  assert.equal(r.sent, 200);
  assert.equal(r.byOp.query!.ok, 200);
  for (const k of ['p50', 'p95', 'p99', 'p999', 'max'] as const) assert.ok(r.byOp.query!.latencyMs[k] > 0, k);
  assert.ok(r.byOp.query!.latencyMs.p50 <= r.byOp.query!.latencyMs.p99);
  assert.ok(r.timeline.length >= 2);
  assert.equal(report.sla.pass, true);
  assert.equal(report.comparison[0]!.op, 'query');

  const page = await readFile(html, 'utf8');
  assert.match(page, /^<!doctype html>/);
  assert.match(page, /<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assertBalanced(page);
  assertSelfContained(page);
  const inline = /<script type="application\/json" id="report">([\s\S]*?)<\/script>/.exec(page)![1]!;
  assert.deepEqual(JSON.parse(inline), report, 'the page carries the whole report');

  const svg = renderSvg(report);
  assert.match(svg, /^<svg /);
  assertBalanced(svg);
  assertSelfContained(svg);
  assert.match(svg, /p99 target 60000 ms/);
  assert.match(svg, /<path d="M[\d.]+,[\d.]+ L/, 'the series are drawn');
});
