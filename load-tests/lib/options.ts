/**
 * Command-line options of `npm run loadtest`, their defaults and validation (each message names
 * the flag).
 */
import { parseArgs } from 'node:util';
import type { Metric } from './dataset.js';
import { TRANSPORTS, type Transport } from './driver.js';
import { SCENARIOS, type Encoding, type Scenario } from './scenarios.js';
import { DEFAULT_SLA, type SlaThresholds } from './sla-check.js';

export interface LoadTestOptions {
  url: string;
  /** Start the engine (and its managed Chroma) in a temporary data folder, stop it after. */
  start: boolean;
  workers: number;
  fsync: string;
  chromaUrl: string | undefined;
  engineArgs: string[];
  scenario: Scenario;
  readRatio: number;
  transport: Transport;
  encoding: Encoding;
  rate: number;
  durationS: number;
  connections: number;
  inflight: number;
  k: number;
  batch: number;
  queryPool: number;
  n: number;
  dim: number;
  metric: Metric;
  collection: string;
  seed: number;
  setup: boolean;
  drainTimeoutS: number;
  /** Unmeasured load before the run (same rate; find-max: the start rate). */
  warmupS: number;
  jsonFile: string | undefined;
  chartFile: string | undefined;
  sla: SlaThresholds;
  findMax: boolean;
  findMaxStart: number;
  findMaxFactor: number;
  findMaxBisections: number;
  findMaxLimit: number;
  stepDurationS: number;
  quiet: boolean;
}

export class UsageError extends Error {}

export const HELP = `Usage: npm run loadtest -- [options]

Target
  --url URL                 hotvec to load (default http://127.0.0.1:8080)
  --start                   start hotvec with a managed Chroma in a temporary folder, stop it after
  --workers N               with --start: query workers (default 2)
  --fsync always|everysec   with --start (default always)
  --chroma-url URL          with --start: use this Chroma instead of a managed one
  --engine-arg ARG          with --start: pass ARG to hotvec (repeatable)

Data (created unless --no-setup)
  --collection NAME         (default loadtest)
  --n N  --dim D  --metric l2|cosine|ip   (default 20000, 128, l2)
  --seed S                  data and request seed (default 1)
  --no-setup                use the collection as found

Load
  --scenario query|upsert|mixed   (default query)
  --read-ratio R            mixed: share of queries (default 0.9)
  --transport http|ws       http: autocannon; ws: msgpack binary frames (default http)
  --encoding json|msgpack   http body encoding (default json)
  --rate N                  open model, N requests/s, latency from the intended send time;
                            0 = closed model (default 0)
  --duration S              seconds (default 10)
  --connections C           http connections or websockets (default 8 for http, 2 for ws)
  --inflight N              ws closed model: requests in flight per socket (default 8)
  --k K                     neighbours per query (default 10)
  --batch B                 vectors per upsert (default 1)
  --query-pool N            cycle through N distinct queries (exercises the hot-query cache);
                            0 = every query distinct (default 0)
  --drain-timeout S         longest wait for answers after the last send (default 10)
  --warmup S                unmeasured load first, at the same rate (default 0, or 5 with
                            --find-max: the engine's first queries are slow); the server's own
                            windows do count it

SLA gate (exit status 1 when it fails)
  --sla-p99-ms MS  --sla-p95-ms MS  --sla-error-ratio R   (default ${DEFAULT_SLA.p99Ms}, ${DEFAULT_SLA.p95Ms}, ${DEFAULT_SLA.errorRatio})

Find the highest rate that meets the SLA
  --find-max                step the rate up from --find-max-start by --find-max-factor, then bisect;
                            if the start fails, step down, to a tenth of the start at most
  --find-max-start N (default 200)  --find-max-factor F (default 1.5)
  --find-max-bisections N (default 4)  --find-max-limit N (default 100000)
  --step-duration S         seconds per step (default 5)

Output
  --json FILE               write the report as JSON
  --chart FILE              write the latency chart (.svg, or .html with the data inline)
  --quiet                   no progress lines on stderr
`;

function number(flag: string, raw: string | undefined, fallback: number, o: { min?: number; max?: number; integer?: boolean } = {}): number {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  const what = o.integer ? 'an integer' : 'a number';
  if (raw.trim() === '' || !Number.isFinite(v) || (o.integer && !Number.isInteger(v))) throw new UsageError(`--${flag} must be ${what}, got ${JSON.stringify(raw)}`);
  if (o.min !== undefined && v < o.min) throw new UsageError(`--${flag} must be ≥ ${o.min}, got ${v}`);
  if (o.max !== undefined && v > o.max) throw new UsageError(`--${flag} must be ≤ ${o.max}, got ${v}`);
  return v;
}

function oneOf<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (!allowed.includes(raw as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

/** Parses argv; returns undefined for --help. */
export function parseOptions(argv: string[]): LoadTestOptions | undefined {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        url: { type: 'string' },
        start: { type: 'boolean' },
        workers: { type: 'string' },
        fsync: { type: 'string' },
        'chroma-url': { type: 'string' },
        'engine-arg': { type: 'string', multiple: true },
        scenario: { type: 'string' },
        'read-ratio': { type: 'string' },
        transport: { type: 'string' },
        encoding: { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        connections: { type: 'string' },
        inflight: { type: 'string' },
        k: { type: 'string' },
        batch: { type: 'string' },
        'query-pool': { type: 'string' },
        n: { type: 'string' },
        dim: { type: 'string' },
        metric: { type: 'string' },
        collection: { type: 'string' },
        seed: { type: 'string' },
        'no-setup': { type: 'boolean' },
        'drain-timeout': { type: 'string' },
        warmup: { type: 'string' },
        json: { type: 'string' },
        chart: { type: 'string' },
        'sla-p99-ms': { type: 'string' },
        'sla-p95-ms': { type: 'string' },
        'sla-error-ratio': { type: 'string' },
        'find-max': { type: 'boolean' },
        'find-max-start': { type: 'string' },
        'find-max-factor': { type: 'string' },
        'find-max-bisections': { type: 'string' },
        'find-max-limit': { type: 'string' },
        'step-duration': { type: 'string' },
        quiet: { type: 'boolean' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return undefined;
  const s = (name: string): string | undefined => values[name] as string | undefined;
  const transport = oneOf('transport', s('transport'), TRANSPORTS, 'http');
  const chartFile = s('chart');
  if (chartFile !== undefined && !/\.(svg|html?)$/i.test(chartFile)) throw new UsageError(`--chart must name a .svg or .html file, got ${JSON.stringify(chartFile)}`);
  const fsync = s('fsync') ?? 'always';
  if (!['always', 'everysec'].includes(fsync)) throw new UsageError(`--fsync must be always or everysec, got ${JSON.stringify(fsync)}`);
  const collection = s('collection') ?? 'loadtest';
  if (!/^[A-Za-z0-9_.-]{0,127}[A-Za-z0-9]$/.test(collection)) throw new UsageError(`--collection must be 1-128 letters, digits, _ - . ending in a letter or digit, got ${JSON.stringify(collection)}`);
  const url = (s('url') ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(url)) throw new UsageError(`--url must look like http://host:port, got ${JSON.stringify(url)}`);
  if (values.start && s('url') !== undefined) throw new UsageError('--url and --start exclude each other: --start runs its own engine');
  const findMax = values['find-max'] === true;
  return {
    url,
    start: values.start === true,
    workers: number('workers', s('workers'), 2, { min: 1, integer: true }),
    fsync,
    chromaUrl: s('chroma-url'),
    engineArgs: (values['engine-arg'] as string[] | undefined) ?? [],
    scenario: oneOf('scenario', s('scenario'), SCENARIOS, 'query'),
    readRatio: number('read-ratio', s('read-ratio'), 0.9, { min: 0, max: 1 }),
    transport,
    encoding: oneOf('encoding', s('encoding'), ['json', 'msgpack'] as const, 'json'),
    rate: number('rate', s('rate'), 0, { min: 0 }),
    durationS: number('duration', s('duration'), 10, { min: 0.1 }),
    connections: number('connections', s('connections'), transport === 'ws' ? 2 : 8, { min: 1, max: 10_000, integer: true }),
    inflight: number('inflight', s('inflight'), 8, { min: 1, max: 4096, integer: true }),
    k: number('k', s('k'), 10, { min: 1, integer: true }),
    batch: number('batch', s('batch'), 1, { min: 1, integer: true }),
    queryPool: number('query-pool', s('query-pool'), 0, { min: 0, max: 1_000_000, integer: true }),
    n: number('n', s('n'), 20_000, { min: 1, integer: true }),
    dim: number('dim', s('dim'), 128, { min: 1, integer: true }),
    metric: oneOf('metric', s('metric'), ['l2', 'cosine', 'ip'] as const, 'l2'),
    collection,
    seed: number('seed', s('seed'), 1, { integer: true }),
    setup: values['no-setup'] !== true,
    drainTimeoutS: number('drain-timeout', s('drain-timeout'), 10, { min: 0 }),
    warmupS: number('warmup', s('warmup'), findMax ? 5 : 0, { min: 0 }),
    jsonFile: s('json'),
    chartFile,
    sla: {
      p99Ms: number('sla-p99-ms', s('sla-p99-ms'), DEFAULT_SLA.p99Ms, { min: 0 }),
      p95Ms: number('sla-p95-ms', s('sla-p95-ms'), DEFAULT_SLA.p95Ms, { min: 0 }),
      errorRatio: number('sla-error-ratio', s('sla-error-ratio'), DEFAULT_SLA.errorRatio, { min: 0, max: 1 }),
    },
    findMax,
    findMaxStart: number('find-max-start', s('find-max-start'), 200, { min: 1 }),
    findMaxFactor: number('find-max-factor', s('find-max-factor'), 1.5, { min: 1.01 }),
    findMaxBisections: number('find-max-bisections', s('find-max-bisections'), 4, { min: 0, integer: true }),
    findMaxLimit: number('find-max-limit', s('find-max-limit'), 100_000, { min: 1 }),
    stepDurationS: number('step-duration', s('step-duration'), 5, { min: 0.5 }),
    quiet: values.quiet === true,
  };
}
