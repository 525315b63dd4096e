/** Get records by id; ids that do not exist are simply absent from the answer. */
import { assertReady, type ServiceContext } from './context.js';
import { GET_INCLUDE, collectionName, ids, include, requestObject } from './validate.js';
import type { Metadata } from '../persist/ops.js';

const GET_FIELDS = ['ids', 'include'] as const;

export interface GetResult {
  ids: string[];
  embeddings?: Float32Array[];
  metadatas?: (Metadata | null)[];
  documents?: (string | null)[];
}

export function get(ctx: ServiceContext, name: string, body: unknown): GetResult {
  assertReady(ctx);
  const req = requestObject(body, 'get', GET_FIELDS);
  const store = ctx.index.require(collectionName(name));
  const idList = ids(req.ids, 'ids', ctx.config.maxBatch, false);
  const inc = include(req.include, GET_INCLUDE, ['metadatas', 'documents']);
  const records = store.get(idList);
  const out: GetResult = { ids: records.map((r) => r.id) };
  if (inc.has('embeddings')) out.embeddings = records.map((r) => r.embedding);
  if (inc.has('metadatas')) out.metadatas = records.map((r) => r.metadata);
  if (inc.has('documents')) out.documents = records.map((r) => r.document);
  return out;
}
