/**
 * hotvec's view of Chroma: the durable copy of every collection, written behind the WAL by
 * the flusher and read back once at start-up to hydrate the in-memory index.
 *
 * Chroma must end up holding exactly hotvec's state, and two of its behaviours stand in
 * the way (both measured against chromadb 3.5):
 *  - `upsert` merges metadata into the old record and keeps the old document when the new
 *    record has none, so an overwrite could not drop keys;
 *  - `add` of an id that exists already is silently ignored.
 * So a batch is applied as delete(every id touched) then add(the final records).
 *
 * Collection management goes through the chromadb client. The record calls (add, delete,
 * get, count) are plain HTTP against the same v2 API, by collection id: the client's
 * base64 encoding of embeddings costs ~360 ms of main-thread time per 1000 × 784 floats
 * (Buffer does it in ~20 ms), and its validation rejects null documents, which the server
 * accepts. Writes carry no client-side timeout on purpose: an abandoned delete that the
 * server still runs after our retry's add would remove records.
 */
import { indexSettingsSchema, type IndexSettings } from '../vector-index/settings.js';
import { endianness } from 'node:os';
import { ChromaClient, type Collection } from 'chromadb';
import { HotvecError } from '../errors.js';
import type { Metadata, Metric } from './ops.js';

export interface ChromaTierOptions {
  /** Chroma's base URL, e.g. `http://127.0.0.1:8000` (no path). */
  url: string;
  /** Default `default_tenant`. */
  tenant?: string;
  /** Default `default_database`. */
  database?: string;
  /** Sent as `Authorization: Bearer …` and `X-Chroma-Token`, whichever the server is set to read. */
  authToken?: string;
  /**
   * Prepended to hotvec's collection names in Chroma; collections under this prefix belong
   * to hotvec (one with other parameters is replaced by createCollection). Default `hotvec_`.
   */
  collectionPrefix?: string;
  /** Timeout of reads (heartbeat, get, count, listing); writes have none, see above. Default 30 000 ms. */
  readTimeoutMs?: number;
}

export interface ChromaCollectionInfo {
  name: string;
  dimension: number;
  metric: Metric;
  count: number;
  /** hotvec's HNSW settings given at create time (kept in the Chroma collection's metadata). */
  index?: Partial<IndexSettings>;
}

export interface ChromaBatch {
  /** Removed first: every id the batch touches, so `upserts` replace whole records. */
  deleteIds: string[];
  upserts: {
    ids: string[];
    /** ids.length × dimension, row-major. */
    embeddings: Float32Array;
    metadatas?: (Metadata | null)[];
    documents?: (string | null)[];
  };
}

export interface ChromaPage {
  ids: string[];
  /** ids.length × dimension, row-major. */
  embeddings: Float32Array;
  metadatas: (Metadata | null)[];
  documents: (string | null)[];
}

const DEFAULTS = Object.freeze({
  tenant: 'default_tenant',
  database: 'default_database',
  collectionPrefix: 'hotvec_',
  readTimeoutMs: 30_000,
});
const METRICS: readonly Metric[] = ['l2', 'cosine', 'ip'];
/** Chroma's rule for collection names. */
const CHROMA_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9._-]{1,510})[a-zA-Z0-9]$/;
/** Used only if the server does not say (pre-flight checks); Chroma's local default is 5461. */
const FALLBACK_MAX_BATCH = 1000;
const LIST_PAGE = 100;
/** Target vector bytes per add request. */
const ADD_REQUEST_BYTES = 1 << 20;

interface CollectionRef {
  id: string;
  dimension: number;
  metric: Metric;
}

export class ChromaTier {
  readonly url: string;
  readonly #opts: Required<Omit<ChromaTierOptions, 'authToken'>>;
  readonly #client: ChromaClient;
  readonly #headers: Record<string, string>;
  readonly #recordsBase: string;
  readonly #refs = new Map<string, CollectionRef>();
  #preflight: Promise<{ maxBatch: number; base64: boolean }> | undefined;

  constructor(options: ChromaTierOptions) {
    const opts = { ...DEFAULTS, ...options };
    const bad = (msg: string): never => {
      throw new HotvecError('INVALID_CONFIG', `chroma: ${msg}`);
    };
    const parsed = URL.canParse(opts.url) ? new URL(opts.url) : bad(`url must be an absolute http(s) URL like http://127.0.0.1:8000, got ${JSON.stringify(opts.url)}`);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') bad(`url must use http or https, got ${parsed.protocol}`);
    if (parsed.pathname !== '/' || parsed.search !== '') bad(`url must have no path or query (the client adds /api/v2/…), got ${opts.url}`);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,383}$/.test(opts.collectionPrefix)) {
      bad(`collectionPrefix must be 1–384 characters of [a-zA-Z0-9._-] starting with a letter or digit (Chroma's name rule), got ${JSON.stringify(opts.collectionPrefix)}`);
    }
    if (!(opts.readTimeoutMs > 0)) bad(`readTimeoutMs must be > 0, got ${opts.readTimeoutMs}`);
    for (const key of ['tenant', 'database'] as const) {
      if (typeof opts[key] !== 'string' || opts[key] === '') bad(`${key} must be a non-empty string`);
    }
    this.#opts = opts;
    const ssl = parsed.protocol === 'https:';
    const port = parsed.port !== '' ? Number(parsed.port) : ssl ? 443 : 80;
    this.url = `${parsed.protocol}//${parsed.host}`;
    this.#headers = options.authToken
      ? { Authorization: `Bearer ${options.authToken}`, 'X-Chroma-Token': options.authToken }
      : {};
    this.#client = new ChromaClient({ host: parsed.hostname, port, ssl, tenant: opts.tenant, database: opts.database, headers: this.#headers });
    this.#recordsBase = `${this.url}/api/v2/tenants/${encodeURIComponent(opts.tenant)}/databases/${encodeURIComponent(opts.database)}/collections`;
  }

  /** Resolves when Chroma answers; throws CHROMA_UNAVAILABLE otherwise. */
  async heartbeat(): Promise<void> {
    await this.#request('heartbeat', 'GET', `${this.url}/api/v2/heartbeat`, undefined, this.#opts.readTimeoutMs);
  }

  /**
   * Makes sure the collection exists with these parameters. Idempotent: an existing one
   * with the same parameters is kept with its records (a replayed create); one with other
   * parameters is left over from an earlier life of the name and is replaced.
   */
  async createCollection(name: string, params: { dimension: number; metric: Metric; index?: Partial<IndexSettings> }): Promise<void> {
    const chromaName = this.#chromaName(name);
    const metadata = {
      hotvec_name: name,
      hotvec_dimension: params.dimension,
      hotvec_metric: params.metric,
      ...(params.index ? { hotvec_index: JSON.stringify(params.index) } : {}),
    };
    const spec = { name: chromaName, embeddingFunction: null, metadata, configuration: { hnsw: { space: params.metric } } };
    await this.#call(`creating collection ${name}`, async () => {
      let col = await this.#client.getOrCreateCollection(spec);
      const ref = refOf(col, name);
      if (!ref || ref.dimension !== params.dimension || ref.metric !== params.metric) {
        await this.#client.deleteCollection({ name: chromaName });
        col = await this.#client.createCollection(spec);
      }
      this.#refs.set(name, { id: col.id, dimension: params.dimension, metric: params.metric });
    });
  }

  /** Removes the collection and its records; no error if it does not exist. */
  async dropCollection(name: string): Promise<void> {
    const chromaName = this.#chromaName(name);
    this.#refs.delete(name);
    await this.#call(`dropping collection ${name}`, async () => {
      try {
        await this.#client.deleteCollection({ name: chromaName });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  /**
   * Deletes `deleteIds`, then adds `upserts` as whole records. Safe to repeat: a retry after
   * a partial failure ends in the same state. Split into requests of Chroma's max batch size.
   */
  async applyBatch(name: string, batch: ChromaBatch): Promise<void> {
    const { ids, embeddings, metadatas, documents } = batch.upserts;
    const dimension = ids.length > 0 ? embeddings.length / ids.length : 0;
    if (!Number.isInteger(dimension) || (ids.length === 0 && embeddings.length !== 0)) {
      throw new HotvecError('INTERNAL', `applyBatch(${name}): ${embeddings.length} floats do not split into ${ids.length} vectors`);
    }
    if ((metadatas && metadatas.length !== ids.length) || (documents && documents.length !== ids.length)) {
      throw new HotvecError('INTERNAL', `applyBatch(${name}): metadatas/documents lengths differ from ${ids.length} ids`);
    }
    // A stale collection id (the collection was re-created behind our back) answers 404:
    // look the name up again once.
    for (let attempt = 1; ; attempt++) {
      const ref = await this.#ref(name);
      if (ids.length > 0 && dimension !== ref.dimension) {
        throw new HotvecError('INTERNAL', `applyBatch(${name}): vectors have ${dimension} dimensions, the collection ${ref.dimension}`);
      }
      try {
        await this.#apply(name, ref.id, batch, dimension);
        return;
      } catch (err) {
        if (attempt > 1 || !(err instanceof HotvecError && (err.cause as { status?: number } | undefined)?.status === 404)) throw err;
        this.#refs.delete(name);
      }
    }
  }

  async #apply(name: string, id: string, batch: ChromaBatch, dimension: number): Promise<void> {
    const { maxBatch, base64 } = await this.#preflightChecks();
    const base = `${this.#recordsBase}/${id}`;
    for (let i = 0; i < batch.deleteIds.length; i += maxBatch) {
      await this.#request(`deleting from ${name}`, 'POST', `${base}/delete`, { ids: batch.deleteIds.slice(i, i + maxBatch) });
    }
    const { ids, embeddings, metadatas, documents } = batch.upserts;
    const useBase64 = base64 && endianness() === 'LE';
    // Encoding a request body blocks the event loop (~60-90 ms per 1000 × 784 floats here,
    // mostly page faults on fresh buffers); requests of ~1 MiB of vectors keep each block short.
    const perRequest = Math.max(1, Math.min(maxBatch, Math.floor(ADD_REQUEST_BYTES / (4 * Math.max(1, dimension)))));
    for (let i = 0; i < ids.length; i += perRequest) {
      const end = Math.min(ids.length, i + perRequest);
      const rows: (string | number[])[] = [];
      for (let r = i; r < end; r++) {
        const row = embeddings.subarray(r * dimension, (r + 1) * dimension);
        // Little-endian float32 bytes, base64: what the server decodes when it advertises support.
        rows.push(useBase64 ? Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('base64') : Array.from(row));
      }
      await this.#request(`adding to ${name}`, 'POST', `${base}/add`, {
        ids: ids.slice(i, end),
        embeddings: rows,
        ...(metadatas ? { metadatas: metadatas.slice(i, end) } : {}),
        ...(documents ? { documents: documents.slice(i, end) } : {}),
      });
    }
  }

  /** hotvec's collections in Chroma: under the prefix and carrying hotvec's metadata. */
  async listCollections(): Promise<ChromaCollectionInfo[]> {
    const found: ChromaCollectionInfo[] = [];
    const cols = await this.#call('listing collections', async () => {
      const all: Collection[] = [];
      for (let offset = 0; ; offset += LIST_PAGE) {
        const page = await this.#client.listCollections({ limit: LIST_PAGE, offset });
        all.push(...page);
        if (page.length < LIST_PAGE) return all;
      }
    });
    for (const col of cols) {
      if (!col.name.startsWith(this.#opts.collectionPrefix)) continue;
      const name = col.name.slice(this.#opts.collectionPrefix.length);
      const ref = refOf(col, name);
      if (!ref) continue;
      this.#refs.set(name, ref);
      const index = indexSettingsOf(col);
      found.push({ name, dimension: ref.dimension, metric: ref.metric, count: await this.#count(name, ref.id), ...(index ? { index } : {}) });
    }
    return found;
  }

  async count(name: string): Promise<number> {
    const ref = await this.#ref(name);
    return this.#count(name, ref.id);
  }

  async #count(name: string, id: string): Promise<number> {
    return (await this.#request(`counting ${name}`, 'GET', `${this.#recordsBase}/${id}/count`, undefined, this.#opts.readTimeoutMs)) as number;
  }

  /**
   * Every record of the collection, `pageSize` at a time, for hydration. Pages by offset,
   * so nothing may write to the collection meanwhile.
   */
  async *scan(name: string, pageSize = 1000): AsyncIterable<ChromaPage> {
    if (!Number.isInteger(pageSize) || pageSize < 1) throw new HotvecError('INTERNAL', `scan(${name}): pageSize must be a positive integer`);
    const ref = await this.#ref(name);
    const { maxBatch } = await this.#preflightChecks();
    const limit = Math.min(pageSize, maxBatch);
    for (let offset = 0; ; offset += limit) {
      const page = (await this.#request(`reading ${name}`, 'POST', `${this.#recordsBase}/${ref.id}/get`, {
        limit,
        offset,
        include: ['embeddings', 'metadatas', 'documents'],
      }, this.#opts.readTimeoutMs)) as { ids: string[]; embeddings?: number[][] | null; metadatas?: (Metadata | null)[] | null; documents?: (string | null)[] | null };
      const n = page.ids.length;
      if (n === 0) return;
      const embeddings = new Float32Array(n * ref.dimension);
      page.embeddings?.forEach((row, i) => {
        if (row.length !== ref.dimension) {
          throw new HotvecError('CHROMA_UNAVAILABLE', `Chroma returned a ${row.length}-dimensional vector for ${page.ids[i]} in ${name}, expected ${ref.dimension}`);
        }
        embeddings.set(row, i * ref.dimension);
      });
      yield {
        ids: page.ids,
        embeddings,
        metadatas: page.metadatas ?? new Array<null>(n).fill(null),
        documents: page.documents ?? new Array<null>(n).fill(null),
      };
      if (n < limit) return;
    }
  }

  #chromaName(name: string): string {
    const chromaName = `${this.#opts.collectionPrefix}${name}`;
    if (!CHROMA_NAME.test(chromaName)) {
      throw new HotvecError('INVALID_ARGUMENT', `collection name ${JSON.stringify(name)} does not make a valid Chroma name (${chromaName}): 3–512 characters of [a-zA-Z0-9._-], starting and ending with a letter or digit`);
    }
    return chromaName;
  }

  async #ref(name: string): Promise<CollectionRef> {
    const cached = this.#refs.get(name);
    if (cached) return cached;
    const chromaName = this.#chromaName(name);
    const col = await this.#call(`looking up collection ${name}`, async () => {
      try {
        return await this.#client.getCollection({ name: chromaName });
      } catch (err) {
        if (isNotFound(err)) throw new HotvecError('CHROMA_UNAVAILABLE', `Chroma has no collection ${chromaName} (hotvec collection ${name})`, { cause: err });
        throw err;
      }
    });
    const ref = refOf(col, name);
    if (!ref) throw new HotvecError('CHROMA_UNAVAILABLE', `Chroma collection ${chromaName} lacks hotvec's metadata (hotvec_name, hotvec_dimension, hotvec_metric)`);
    this.#refs.set(name, ref);
    return ref;
  }

  #preflightChecks(): Promise<{ maxBatch: number; base64: boolean }> {
    this.#preflight ??= (async () => {
      const body = (await this.#request('pre-flight checks', 'GET', `${this.url}/api/v2/pre-flight-checks`, undefined, this.#opts.readTimeoutMs)) as { max_batch_size?: number; supports_base64_encoding?: boolean };
      const maxBatch = typeof body.max_batch_size === 'number' && body.max_batch_size > 0 ? body.max_batch_size : FALLBACK_MAX_BATCH;
      return { maxBatch, base64: body.supports_base64_encoding === true };
    })();
    this.#preflight.catch(() => { this.#preflight = undefined; });
    return this.#preflight;
  }

  /** One HTTP call of the v2 API; JSON in and out, failures as CHROMA_UNAVAILABLE. */
  async #request(action: string, method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs?: number): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...this.#headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: timeoutMs ? AbortSignal.timeout(timeoutMs) : undefined,
      });
    } catch (err) {
      throw this.#error(action, err);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let message = text;
      try {
        const parsed = JSON.parse(text) as { message?: string; error?: string };
        message = parsed.message ?? parsed.error ?? text;
      } catch {
        /* not JSON: keep the text */
      }
      const cause = Object.assign(new Error(`HTTP ${res.status}: ${message}`), { status: res.status });
      throw new HotvecError('CHROMA_UNAVAILABLE', `Chroma failed ${action}: HTTP ${res.status} ${message.slice(0, 500)}`, { cause });
    }
    try {
      return text === '' ? undefined : JSON.parse(text);
    } catch (err) {
      throw new HotvecError('CHROMA_UNAVAILABLE', `Chroma answered ${action} with something that is not JSON: ${text.slice(0, 200)}`, { cause: err });
    }
  }

  async #call<T>(action: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw this.#error(action, err);
    }
  }

  #error(action: string, err: unknown): HotvecError {
    if (err instanceof HotvecError) return err;
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e.name === 'ChromaConnectionError' || e.name === 'TypeError' || e.name === 'TimeoutError' || e.name === 'AbortError') {
      // fetch puts the socket error (ECONNREFUSED, ENOTFOUND…) in `cause`; the client drops it.
      const detail = e.name === 'TimeoutError' ? 'timed out'
        : e.name === 'ChromaConnectionError' ? 'connection failed'
        : (e.cause?.code ?? e.cause?.message ?? e.message ?? 'connection failed');
      return new HotvecError('CHROMA_UNAVAILABLE', `Chroma at ${this.url} is unreachable (${detail}) while ${action}`, { cause: err });
    }
    return new HotvecError('CHROMA_UNAVAILABLE', `Chroma failed ${action}: ${e.message ?? String(err)}`, { cause: err });
  }
}

/** The collection's id and hotvec parameters, or undefined when its metadata is not hotvec's for `name`. */
function refOf(col: Collection, name: string): CollectionRef | undefined {
  const m = col.metadata ?? {};
  const dimension = m.hotvec_dimension;
  const metric = m.hotvec_metric as Metric;
  if (m.hotvec_name !== name || typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1) return undefined;
  if (!METRICS.includes(metric)) return undefined;
  return { id: col.id, dimension, metric };
}

function indexSettingsOf(col: Collection): Partial<IndexSettings> | undefined {
  const raw = col.metadata?.hotvec_index;
  if (typeof raw !== 'string') return undefined;
  try {
    const parsed = indexSettingsSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function isNotFound(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ChromaNotFoundError';
}
