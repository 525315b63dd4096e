/** Upsert: insert or replace whole records (vector, metadata, document). */
import { assertReady, commit, type ServiceContext } from './context.js';
import { collectionName, document, embeddings, ids, metadata, perRecord, requestObject } from './validate.js';
import { HotvecError } from '../errors.js';

const UPSERT_FIELDS = ['ids', 'embeddings', 'metadatas', 'documents'] as const;

export async function upsert(ctx: ServiceContext, name: string, body: unknown): Promise<{ upserted: number }> {
  assertReady(ctx);
  const req = requestObject(body, 'upsert', UPSERT_FIELDS);
  const store = ctx.index.require(collectionName(name));
  const idList = ids(req.ids, 'ids', ctx.config.maxBatch, true);
  if (idList.length === 0) return { upserted: 0 };
  const vectors = embeddings(req.embeddings, 'embeddings', store.dimension, ctx.config.maxBatch);
  if (vectors.length / store.dimension !== idList.length) {
    throw new HotvecError('INVALID_ARGUMENT', `"embeddings" holds ${vectors.length / store.dimension} vectors for ${idList.length} ids; expected one per id`);
  }
  const metadatas = perRecord(req.metadatas, 'metadatas', idList.length, metadata);
  const documents = perRecord(req.documents, 'documents', idList.length, document);
  // Room first: a write that the arena cannot hold must fail before it reaches the WAL.
  store.reserveFor(idList);
  await commit(ctx, {
    t: 'upsert',
    collection: store.name,
    ids: idList,
    embeddings: vectors,
    ...(metadatas ? { metadatas } : {}),
    ...(documents ? { documents } : {}),
  });
  return { upserted: idList.length };
}
