/** Collection-level operations: create, list, describe, drop, count. */
import { z } from 'zod';
import { HotvecError } from '../errors.js';
import type { IndexingStatus } from '../graph/indexer.js';
import type { CollectionStore } from '../vector-index/collection.js';
import { indexSettingsSchema, type IndexSettings } from '../vector-index/settings.js';
import { assertReady, commit, type ServiceContext } from './context.js';
import { collectionName, parseBody, requestObject } from './validate.js';

const CREATE_FIELDS = ['name', 'dimension', 'metric', 'index'] as const;

export interface CollectionDescription {
  name: string;
  dimension: number;
  metric: 'l2' | 'cosine' | 'ip';
  count: number;
  index: IndexSettings;
}

/** GET of one collection adds its background indexing state. */
export interface CollectionDetail extends CollectionDescription {
  /** True while a segment is being sealed or merged, or one is due. */
  indexing: boolean;
  segments: IndexingStatus['segments'];
}

const describe = (c: CollectionStore): CollectionDescription => ({ name: c.name, dimension: c.dimension, metric: c.metric, count: c.count, index: { ...c.settings } });

export async function createCollection(ctx: ServiceContext, body: unknown): Promise<CollectionDescription> {
  assertReady(ctx);
  requestObject(body, 'create_collection', CREATE_FIELDS);
  const req = parseBody(
    z.object({
      name: z.unknown(),
      dimension: z.number().int().min(1).max(ctx.config.maxDimension),
      metric: z.enum(['l2', 'cosine', 'ip']).default('l2'),
      index: indexSettingsSchema.optional(),
    }),
    body,
  );
  const name = collectionName(req.name);
  if (ctx.index.get(name)) throw new HotvecError('COLLECTION_EXISTS', `collection "${name}" already exists`);
  if (req.index?.storage === 'i8' && req.metric === 'ip') {
    // usearch's int8 inner product is not a dot product (graph/quantize.ts): i8 graphs serve l2 and cosine.
    throw new HotvecError('INVALID_ARGUMENT', `"index.storage" i8 is for metrics l2 and cosine; use f16 or f32 for ip`);
  }
  const index = req.index ? Object.fromEntries(Object.entries(req.index).filter(([, v]) => v !== undefined)) : undefined;
  await commit(ctx, { t: 'create', collection: name, dimension: req.dimension, metric: req.metric, ...(index ? { index } : {}) });
  return describe(ctx.index.require(name));
}

export function listCollections(ctx: ServiceContext): { collections: CollectionDescription[] } {
  assertReady(ctx);
  return { collections: ctx.index.list().map(describe) };
}

export function getCollection(ctx: ServiceContext, name: string): CollectionDetail {
  assertReady(ctx);
  const store = ctx.index.require(collectionName(name));
  const status = ctx.indexer?.status(store) ?? { indexing: false, segments: [] };
  return { ...describe(store), indexing: status.indexing, segments: status.segments };
}

export async function deleteCollection(ctx: ServiceContext, name: string): Promise<{ name: string; deleted: true }> {
  assertReady(ctx);
  ctx.index.require(collectionName(name));
  await commit(ctx, { t: 'drop', collection: name });
  return { name, deleted: true };
}

export function count(ctx: ServiceContext, name: string): { count: number } {
  assertReady(ctx);
  return { count: ctx.index.require(collectionName(name)).count };
}
