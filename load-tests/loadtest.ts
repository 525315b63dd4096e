/**
 * Load test of a running hotvec (or one it starts with --start): a query, upsert or mixed
 * workload over HTTP (autocannon) or WebSocket (msgpack), at a fixed arrival rate (open model,
 * latency from the intended send time) or closed-loop; live progress on stderr, a summary
 * table on stdout, the server's own SLA view beside the client's, optional JSON report and
 * latency chart. Exit status: 0 when the SLA is met, 1 when it is not, 2 on a usage or run error.
 *
 *   npm run loadtest -- --scenario query --rate 500 --duration 10 --connections 8
 *   npm run loadtest -- --start --scenario mixed --transport ws --find-max --chart max.html
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { renderHtml, renderSvg } from './lib/chart.js';
import { describeCollection, uploadDataset } from './lib/dataset.js';
import { findMax } from './lib/find-max.js';
import { HELP, parseOptions, UsageError, type LoadTestOptions } from './lib/options.js';
import { fmt, formatFindMax, formatRun, machine, summariseStep, withComparison, type LoadReport } from './lib/report.js';
import { runLoad, type Progress, type RunResult } from './lib/run.js';
import { Workload } from './lib/scenarios.js';
import { fetchServerSla } from './lib/server-sla.js';
import { checkSla, type SlaVerdict } from './lib/sla-check.js';
import { openTarget, waitForWriteBehind, type Target } from './lib/target.js';

const EXIT_SLA_FAILED = 1;
const EXIT_ERROR = 2;
/** Pause between --find-max steps, so one step's backlog does not leak into the next. */
const STEP_PAUSE_MS = 1000;
/** Longest wait, after the upload, for the engine to copy the data set into Chroma. */
const WRITE_BEHIND_TIMEOUT_MS = 300_000;

function progressPrinter(o: LoadTestOptions, prefix = ''): ((p: Progress) => void) | undefined {
  if (o.quiet) return undefined;
  return (p) =>
    process.stderr.write(
      `${prefix}[${p.t.toFixed(0).padStart(4)}s] ${String(p.ratePerSecond).padStart(6)} req/s | p99 so far ${fmt(p.p99SoFar)} ms | errors ${p.errorsSoFar} | in flight ${p.inflight} | backlog ${p.backlog}\n`,
    );
}

async function writeOutputs(o: LoadTestOptions, report: LoadReport, text: string): Promise<void> {
  const write = async (file: string, body: string): Promise<void> => {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, body);
    process.stderr.write(`wrote ${file}\n`);
  };
  if (o.jsonFile) await write(o.jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  if (o.chartFile) await write(o.chartFile, /\.html?$/i.test(o.chartFile) ? renderHtml(report, text) : renderSvg(report));
}

async function loadTest(o: LoadTestOptions, target: Target): Promise<number> {
  const dataset = o.setup
    ? await uploadDataset(target.url, { collection: o.collection, n: o.n, dim: o.dim, metric: o.metric, seed: o.seed })
    : await describeCollection(target.url, o.collection);
  if (o.setup) {
    if (!o.quiet) process.stderr.write(`uploaded ${dataset.n} × ${dataset.dim} vectors in ${fmt(dataset.uploadSeconds)} s\n`);
    const waited = await waitForWriteBehind(target.url, WRITE_BEHIND_TIMEOUT_MS);
    if (waited !== undefined && waited > 0.5 && !o.quiet) process.stderr.write(`waited ${fmt(waited)} s for the write-behind to reach Chroma\n`);
  }
  const workload = new Workload({
    scenario: o.scenario,
    readRatio: o.readRatio,
    collection: o.collection,
    dim: dataset.dim,
    n: Math.max(1, dataset.n),
    k: o.k,
    batch: o.batch,
    encoding: o.encoding,
    seed: o.seed,
    queryPool: o.queryPool,
  });
  const runOptions = (rate: number, durationS: number, prefix?: string): Parameters<typeof runLoad>[1] => {
    const onProgress = progressPrinter(o, prefix);
    return {
      url: target.url,
      transport: o.transport,
      rate,
      durationS,
      connections: o.connections,
      inflight: o.inflight,
      drainTimeoutS: o.drainTimeoutS,
      ...(onProgress ? { onProgress } : {}),
    };
  };
  const base = {
    tool: 'hotvec-loadtest' as const,
    version: 1 as const,
    startedAt: new Date().toISOString(),
    machine: machine(),
    target: { url: target.url, startedByTool: target.startedByTool },
    dataset,
    workload: {
      scenario: o.scenario,
      readRatio: o.readRatio,
      transport: o.transport,
      encoding: o.transport === 'ws' ? 'msgpack' : o.encoding,
      connections: o.connections,
      inflight: o.inflight,
      k: o.k,
      batch: o.batch,
      queryPool: o.queryPool,
      seed: o.seed,
    },
  };

  if (o.warmupS > 0) {
    const rate = o.findMax ? Math.min(o.findMaxStart, o.findMaxLimit) : o.rate;
    if (!o.quiet) process.stderr.write(`warming up for ${o.warmupS} s\n`);
    await runLoad(workload, { ...runOptions(rate, o.warmupS), onProgress: () => undefined });
  }

  let report: LoadReport;
  let text: string;
  if (o.findMax) {
    const search = await findMax<{ run: RunResult; verdict: SlaVerdict }>(
      { start: o.findMaxStart, factor: o.findMaxFactor, bisections: o.findMaxBisections, maxRate: o.findMaxLimit },
      async (rate) => {
        const run = await runLoad(workload, runOptions(rate, o.stepDurationS, `${rate}/s `));
        const verdict = checkSla(run, o.sla);
        await new Promise((r) => setTimeout(r, STEP_PAUSE_MS));
        return { pass: verdict.pass, result: { run, verdict } };
      },
      (step) => {
        if (o.quiet) return;
        const s = summariseStep(step);
        process.stderr.write(
          `step ${step.rate} req/s: ${fmt(s.achievedRate)} ok/s, p95 ${fmt(s.p95)} ms, p99 ${fmt(s.p99)} ms, error ratio ${fmt(s.errorRatio)}: ${step.pass ? 'pass' : 'FAIL'}\n`,
        );
      },
    );
    const server = await fetchServerSla(target.url);
    report = withComparison({
      ...base,
      sla: { thresholds: o.sla, pass: search.best !== undefined },
      findMax: { best: search.best ?? null, stepDurationS: o.stepDurationS, steps: search.steps.map(summariseStep) },
      server,
    });
    text = formatFindMax(report);
  } else {
    const run = await runLoad(workload, runOptions(o.rate, o.durationS));
    const verdict = checkSla(run, o.sla);
    const server = await fetchServerSla(target.url);
    report = withComparison({ ...base, sla: { thresholds: o.sla, pass: verdict.pass, verdict }, run, server });
    text = formatRun(report);
  }
  process.stdout.write(`${text}\n`);
  await writeOutputs(o, report, text);
  return report.sla.pass ? 0 : EXIT_SLA_FAILED;
}

async function main(): Promise<number> {
  let o: LoadTestOptions | undefined;
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${HELP}`);
    return EXIT_ERROR;
  }
  if (!o) {
    process.stdout.write(HELP);
    return 0;
  }
  let target: Target | undefined;
  const interrupted = async (): Promise<void> => {
    process.stderr.write('interrupted; stopping\n');
    await target?.close();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    if (o.start && !o.quiet) process.stderr.write('starting hotvec with a managed Chroma in a temporary folder\n');
    target = await openTarget(o);
    return await loadTest(o, target);
  } catch (err) {
    process.stderr.write(`load test failed: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_ERROR;
  } finally {
    await target?.close();
  }
}

process.exitCode = await main();
