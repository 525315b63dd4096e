/**
 * The Chroma side of the benchmark: a real Chroma server (the same `chroma run` hotvec
 * manages) in its own temporary folder, loaded through the official JS client as a user
 * would, and queried over its HTTP API.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChromaClient, type Collection } from 'chromadb';
import { ManagedChroma } from '../../src/persist/managed-chroma.js';

export function clientFor(url: string): ChromaClient {
  const u = new URL(url);
  return new ChromaClient({ host: u.hostname, port: Number(u.port), ssl: false });
}

export class ChromaUnderTest {
  private collection?: Collection;

  private constructor(
    readonly server: ManagedChroma,
    readonly dataDir: string,
    private readonly client: ChromaClient,
  ) {}

  static async start(): Promise<ChromaUnderTest> {
    const dataDir = await mkdtemp(join(tmpdir(), 'vs-chroma-'));
    const server = await ManagedChroma.start({ dataDir, port: 0 });
    return new ChromaUnderTest(server, dataDir, clientFor(server.url));
  }

  get pid(): number {
    return this.server.pid;
  }

  /** An l2 collection with Chroma's default HNSW settings. */
  async create(name: string): Promise<void> {
    this.collection = await this.client.createCollection({ name, embeddingFunction: null, configuration: { hnsw: { space: 'l2' } } });
  }

  private get col(): Collection {
    if (!this.collection) throw new Error('create() the collection first');
    return this.collection;
  }

  /** Adds every row with `batch` rows per call and `concurrency` calls in flight; returns seconds. */
  async load(data: Float32Array, dim: number, idOf: (i: number) => string, batch: number, concurrency: number): Promise<number> {
    const n = data.length / dim;
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < n) {
          const start = next;
          next = Math.min(n, next + batch);
          const ids: string[] = [];
          const embeddings: number[][] = [];
          for (let i = start; i < next; i++) {
            ids.push(idOf(i));
            embeddings.push(Array.from(data.subarray(i * dim, (i + 1) * dim)));
          }
          await this.col.add({ ids, embeddings });
        }
      }),
    );
    return (performance.now() - t0) / 1000;
  }

  async count(): Promise<number> {
    return this.col.count();
  }

  /** Top-k ids of each query, `batch` queries per call. */
  async query(queries: Float32Array, dim: number, k: number, batch = 50): Promise<string[][]> {
    const out: string[][] = [];
    const nq = queries.length / dim;
    for (let q = 0; q < nq; q += batch) {
      const rows: number[][] = [];
      for (let i = q; i < Math.min(nq, q + batch); i++) rows.push(Array.from(queries.subarray(i * dim, (i + 1) * dim)));
      const r = await this.col.query({ queryEmbeddings: rows, nResults: k, include: ['distances'] });
      out.push(...r.ids);
    }
    return out;
  }

  /** The v2 HTTP query endpoint of the collection, and the JSON body for one query vector. */
  get queryUrl(): string {
    return `${this.server.url}/api/v2/tenants/default_tenant/databases/default_database/collections/${this.col.id}/query`;
  }

  /** A query body's JSON before and after its one vector (Chroma's REST API). */
  static queryBodyAround(k: number): [prefix: string, suffix: string] {
    return ['{"query_embeddings":[', `],"n_results":${k},"include":["distances"]}`];
  }

  async close(): Promise<void> {
    await this.server.close();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
