/**
 * The operation table both transports dispatch through: HTTP routes name an operation and
 * fill `collection` from the path; WebSocket messages name it in `op`.
 */
import * as service from '../service/index.js';
import type { ServiceContext } from '../service/index.js';
import { invalid } from '../errors.js';
import { requestObject } from '../service/validate.js';

export type OpName =
  | 'create_collection'
  | 'list_collections'
  | 'get_collection'
  | 'delete_collection'
  | 'upsert'
  | 'query'
  | 'get'
  | 'delete'
  | 'count';

export interface OpCall {
  op: OpName;
  /** The collection from the path (HTTP) or the message's `collection` field (WebSocket). */
  collection: string | undefined;
  body: unknown;
}

type Handler = (ctx: ServiceContext, collection: string, body: unknown) => unknown;

const needCollection = (c: string | undefined): string => {
  if (c === undefined) throw invalid('"collection" is required for this operation');
  return c;
};

/** Operations that take no fields (over HTTP they have no body; a WebSocket message may carry only id, op and collection). */
const noFields = (op: OpName, body: unknown): void => void requestObject(body, op, []);

const handlers: Record<OpName, Handler> = {
  create_collection: (ctx, _c, body) => service.createCollection(ctx, body),
  list_collections: (ctx, _c, body) => (noFields('list_collections', body), service.listCollections(ctx)),
  get_collection: (ctx, c, body) => (noFields('get_collection', body), service.getCollection(ctx, c)),
  delete_collection: (ctx, c, body) => (noFields('delete_collection', body), service.deleteCollection(ctx, c)),
  upsert: (ctx, c, body) => service.upsert(ctx, c, body),
  query: (ctx, c, body) => service.query(ctx, c, body),
  get: (ctx, c, body) => service.get(ctx, c, body),
  delete: (ctx, c, body) => service.deleteRecords(ctx, c, body),
  count: (ctx, c, body) => (noFields('count', body), service.count(ctx, c)),
};

const noCollection = new Set<OpName>(['create_collection', 'list_collections']);

export const isOpName = (op: unknown): op is OpName => typeof op === 'string' && Object.hasOwn(handlers, op);
export const opNames = Object.keys(handlers) as OpName[];

/** Operations whose results may carry typed arrays (embeddings) the encoder must convert. */
export const mayCarryEmbeddings = (op: OpName): boolean => op === 'query' || op === 'get';

export async function dispatch(ctx: ServiceContext, call: OpCall): Promise<unknown> {
  const collection = noCollection.has(call.op) ? '' : needCollection(call.collection);
  return handlers[call.op](ctx, collection, call.body);
}
