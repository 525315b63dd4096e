/**
 * Engine configuration: one table of options, each with its flag, environment variable,
 * default and validation. Layers, each overriding the last: defaults → JSON config file
 * (`--config`) → `HOTVEC_*` environment variables → command-line flags.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { HotvecError } from './errors.js';

const MiB = 1024 * 1024;
/** WebAssembly memories are 32-bit: the shared vector arena can hold at most 4 GiB. */
export const MAX_ARENA_BYTES = 65536 * 65536;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Every option, with its doc string. Keep README's config table in step (test/config checks it). */
export const configSchema = z.object({
  /** Interface the HTTP/WebSocket server binds. */
  host: z.string().min(1).default('127.0.0.1'),
  /** TCP port of the HTTP/WebSocket server; 0 picks a free port. Bound exclusively: a port another process listens on is refused at start. */
  port: int(0, 65535).default(8080),
  /**
   * TCP port on which the query workers answer `POST /v1/collections/:name/query` themselves
   * (ids and distances; no hand-off between threads); 0 picks a free port; unset: no query port.
   * Every worker binds it (SO_REUSEPORT); it is tried exclusively first, so a port in use is refused at start.
   */
  queryPort: int(0, 65535).optional(),
  /** Folder for the WAL, the checkpoint, segment graphs, the local snapshot and the managed Chroma's data. */
  dataDir: z.string().min(1).default('./data'),
  /** Query worker threads. */
  workers: int(1, 256).default(availableParallelism()),
  /** Scheduling policy of the query workers (Linux): `batch` (default; SCHED_BATCH: waking a worker for a task does not preempt the main thread that handed it over, nor background work; a warning is logged where it cannot be set) or `normal` (left as it is). */
  workerSched: z.enum(['normal', 'batch']).default('batch'),
  /** URL of an existing Chroma server; when unset hotvec starts and manages a local one. */
  chromaUrl: z.string().url().optional(),
  /** Chroma tenant. */
  chromaTenant: z.string().min(1).default('default_tenant'),
  /** Chroma database. */
  chromaDatabase: z.string().min(1).default('default_database'),
  /** Chroma token auth: sent as `Authorization: Bearer` and `X-Chroma-Token`. */
  chromaAuthToken: z.string().min(1).optional(),
  /** Prefix of the Chroma collection that backs each hotvec collection. */
  chromaPrefix: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/, 'must start with a letter or digit and be 2-64 characters of letters, digits, ".", "_", "-"').default('hotvec_'),
  /** Port of the managed local Chroma; 0 picks a free loopback port. */
  chromaPort: int(0, 65535).default(0),
  /** How long to wait for the managed Chroma to answer its heartbeat at start. */
  chromaStartTimeoutMs: int(1000, 600_000).default(60_000),
  /** `always`: acknowledge a write after fdatasync; `everysec`: after write(2), with fsync every second. */
  fsync: z.enum(['always', 'everysec']).default('always'),
  /** Largest request body accepted (bytes); larger ones get 413. */
  maxBodyBytes: int(1024, 1024 * MiB).default(64 * MiB),
  /** Most vectors in one upsert, query, get or delete request. */
  maxBatch: int(1, 1_000_000).default(10_000),
  /** Largest `k` of a query. */
  maxK: int(1, 100_000).default(1000),
  /** Largest collection dimension. */
  maxDimension: int(1, 65_536).default(4096),
  /** Upper bound of the shared vector arena (bytes); at most 4 GiB (32-bit WebAssembly memory). */
  maxIndexBytes: int(64 * MiB, MAX_ARENA_BYTES).default(MAX_ARENA_BYTES),
  /** Query vectors in progress (waiting for or running in the pool) beyond which new queries get 503 OVERLOADED. */
  maxQueue: int(1, 1_000_000).default(4096),
  /** Records a growing segment takes before it is frozen and sealed into an HNSW graph. */
  segmentRecords: int(1024, 16_777_216).default(16384),
  /** A growing segment idle (no writes to its collection) this long is sealed early (ms). */
  sealIdleMs: int(10, 3_600_000).default(2000),
  /** Fewest live records worth sealing when idle; smaller growing segments stay exact scans. */
  sealMinRecords: int(1, 16_777_216).default(1024),
  /** Sealed segments per collection beyond which the smallest are merged. */
  maxSegments: int(1, 1024).default(8),
  /** A sealed segment with at least this fraction of tombstones is compacted. */
  compactDeadRatio: z.coerce.number().min(0.01).max(1).default(0.3),
  /** Nice value (Linux) the background work, the graph builder thread and the managed Chroma, runs at (never below hotvec's own), so it yields the CPU to the request path; 0 leaves their priority alone. */
  backgroundNice: int(0, 19).default(10),
  /** Threads the graph builder may use to insert into an HNSW graph. */
  buildThreads: int(1, 256).default(Math.max(1, availableParallelism() - 1)),
  /** How often a local snapshot of the index is written while writes happen (ms); also after every graph build and at shutdown. */
  snapshotIntervalMs: int(1000, 86_400_000).default(60_000),
  /** Default HNSW connectivity M of new collections (Chroma's max_neighbors default). */
  hnswM: int(2, 256).default(16),
  /** Default HNSW ef_construction of new collections. */
  hnswEfConstruction: int(1, 4096).default(100),
  /** Default HNSW ef_search of new collections (a query may pass its own `ef`). */
  hnswEfSearch: int(1, 4096).default(100),
  /** Default scalar type of vectors inside HNSW graphs of new collections: f32, f16 or i8 (int8 quantised by hotvec; ip collections get f16); exact f32 re-ranking either way. */
  hnswStorage: z.enum(['f32', 'f16', 'i8']).default('f32'),
  /** Hot-query cache: most bytes of cached answers (estimated heap size); 0 disables the cache. With a query port, half is the main thread's and half is split evenly among the query workers' own caches. */
  cacheBytes: int(0, 64 * 1024 * MiB).default(64 * MiB),
  /** Hot-query cache admission: keep a query's answer only once the query was seen before (repeat), or on its first miss (first). */
  cacheAdmission: z.enum(['repeat', 'first']).default('repeat'),
  /** Write-behind: most records in one Chroma call. */
  flushBatchRecords: int(1, 100_000).default(1000),
  /** Write-behind: how often a partial batch is sent (ms). */
  flushIntervalMs: int(1, 60_000).default(100),
  /** Graceful stop: longest wait for in-flight requests, worker threads still loading their module (bounded by what is left of it, but never less than 1 s: stopping one mid-load aborts the process) and the write-behind flush (ms). */
  shutdownTimeoutMs: int(0, 600_000).default(15_000),
  /** SLA: 99% of queries answer within this many ms (query p99 target). */
  slaQueryP99Ms: z.coerce.number().positive().max(60_000).default(10),
  /** SLA: 95% of queries answer within this many ms (query p95 target). */
  slaQueryP95Ms: z.coerce.number().positive().max(60_000).default(5),
  /** SLA: largest share of requests answered with a server error (5xx), e.g. 0.001 = 0.1%. */
  slaErrorRatio: z.coerce.number().gt(0).lt(1).default(0.001),
  /** SLA: largest age (ms) of the oldest write not yet confirmed by Chroma. */
  slaWriteLagMs: z.coerce.number().positive().default(5000),
  /** SLA: share of the time the write-behind lag must be within its target (its error budget is 1 − this). */
  slaWriteLagCompliance: z.coerce.number().gt(0).lt(1).default(0.999),
  /** SLA: fewest events (answered queries for p99/p95, requests for the error ratio) in an alert pair's long window, and behind a 5-min current value, before a request objective starts alerting; 0 for no minimum. */
  slaMinEvents: int(0, 1_000_000_000).default(100),
  /** SLA: how often it is evaluated, alerts decided and snapshots pushed to subscribers (ms). */
  slaIntervalMs: int(100, 60_000).default(1000),
  /** SLA: URL that alert transitions are POSTed to as JSON (retried, never blocks requests). */
  slaWebhookUrl: z.string().url().optional(),
  /** pino log level. */
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Readonly<z.infer<typeof configSchema>>;
export type ConfigInput = z.input<typeof configSchema>;

type Key = keyof z.infer<typeof configSchema>;
const keys = Object.keys(configSchema.shape) as Key[];

/** `dataDir` → `--data-dir` / `HOTVEC_DATA_DIR`. */
export const flagName = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const envName = (key: string): string => `HOTVEC_${flagName(key).replace(/-/g, '_').toUpperCase()}`;

/** Validates a partial config over the defaults; the error message names every bad option. */
export function resolveConfig(input: ConfigInput = {}, source = 'config'): Config {
  const result = configSchema.strict().safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const name = key ? `${key} (--${flagName(key)}, ${envName(key)})` : '(root)';
      return i.code === 'unrecognized_keys' ? `unknown option(s) ${i.keys.join(', ')}` : `${name}: ${i.message}`;
    });
    throw new HotvecError('INVALID_CONFIG', `invalid ${source}: ${problems.join('; ')}`);
  }
  return Object.freeze(result.data);
}

export interface LoadedConfig {
  config: Config;
  help: boolean;
}

/** Builds the config from argv and env the way `npm start -- --port 9000` expects. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): LoadedConfig {
  const options: Record<string, { type: 'string' | 'boolean' }> = { config: { type: 'string' }, help: { type: 'boolean' } };
  for (const key of keys) options[flagName(key)] = { type: 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new HotvecError('INVALID_CONFIG', `${(err as Error).message}; see --help`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const merged: Record<string, unknown> = {};
  const file = (values.config as string | undefined) ?? env.HOTVEC_CONFIG;
  if (file) {
    let fromFile: unknown;
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new HotvecError('INVALID_CONFIG', `cannot read config file ${file}: ${(err as Error).message}`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
      throw new HotvecError('INVALID_CONFIG', `config file ${file} must hold a JSON object`);
    }
    Object.assign(merged, fromFile);
  }
  for (const key of keys) {
    const fromEnv = env[envName(key)];
    if (fromEnv !== undefined && fromEnv !== '') merged[key] = fromEnv;
  }
  for (const key of keys) {
    const fromFlag = values[flagName(key)];
    if (fromFlag !== undefined) merged[key] = fromFlag;
  }
  return { config: resolveConfig(merged as ConfigInput), help: values.help === true };
}

/** Text for `--help`, generated from the schema so it cannot drift from the code. */
export function helpText(): string {
  const lines = ['Usage: npm start -- [options]   (every option also reads HOTVEC_<NAME> from the environment)', ''];
  const flags = keys.map((key) => `  --${flagName(key)} <value>`);
  // One column for every flag, a space wider than the longest.
  const width = Math.max('  --config <file>'.length, ...flags.map((f) => f.length)) + 2;
  lines.push('  --config <file>'.padEnd(width) + 'JSON file with any of the options below (camelCase keys)');
  keys.forEach((key, i) => {
    const field = configSchema.shape[key];
    const def = (field as { _zod?: { def?: { defaultValue?: unknown } } })._zod?.def?.defaultValue;
    const shown = def === undefined ? '' : ` (default ${COMPUTED_DEFAULTS[key] ? `${COMPUTED_DEFAULTS[key]}: ` : ''}${JSON.stringify(def)})`;
    lines.push(flags[i]!.padEnd(width) + `${envName(key)}${shown}`);
  });
  lines.push('', "What each option does: README.md, section 'Configuration'.");
  return lines.join('\n');
}

/** Defaults that depend on the machine, said as such in the help. */
const COMPUTED_DEFAULTS: Partial<Record<string, string>> = { workers: 'the cores', buildThreads: 'the cores − 1' };
