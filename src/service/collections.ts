/** Collection-level operations: create, list, describe, drop, count. */
import { z } from 'zod';
import { HotvecError } from '../errors.js';
import type { CollectionStore } from '../vector-index/collection.js';
import { assertReady, commit, type ServiceContext } from './context.js';
import { collectionName, parseBody } from './validate.js';

export interface CollectionDescription {
  name: string;
  dimension: number;
  metric: 'l2' | 'cosine' | 'ip';
  count: number;
}

const describe = (c: CollectionStore): CollectionDescription => ({ name: c.name, dimension: c.dimension, metric: c.metric, count: c.count });

export async function createCollection(ctx: ServiceContext, body: unknown): Promise<CollectionDescription> {
  assertReady(ctx);
  const req = parseBody(
    z.object({
      name: z.unknown(),
      dimension: z.number().int().min(1).max(ctx.config.maxDimension),
      metric: z.enum(['l2', 'cosine', 'ip']).default('l2'),
    }),
    body,
  );
  const name = collectionName(req.name);
  if (ctx.index.get(name)) throw new HotvecError('COLLECTION_EXISTS', `collection "${name}" already exists`);
  await commit(ctx, { t: 'create', collection: name, dimension: req.dimension, metric: req.metric });
  return describe(ctx.index.require(name));
}

export function listCollections(ctx: ServiceContext): { collections: CollectionDescription[] } {
  assertReady(ctx);
  return { collections: ctx.index.list().map(describe) };
}

export function getCollection(ctx: ServiceContext, name: string): CollectionDescription {
  assertReady(ctx);
  return describe(ctx.index.require(collectionName(name)));
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
