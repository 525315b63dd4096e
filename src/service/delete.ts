/** Delete records by id; ids that do not exist are ignored. */
import { assertReady, commit, type ServiceContext } from './context.js';
import { collectionName, ids, requestObject } from './validate.js';

const DELETE_FIELDS = ['ids'] as const;

export async function deleteRecords(ctx: ServiceContext, name: string, body: unknown): Promise<{ deleted: number }> {
  assertReady(ctx);
  const req = requestObject(body, 'delete', DELETE_FIELDS);
  const store = ctx.index.require(collectionName(name));
  const idList = ids(req.ids, 'ids', ctx.config.maxBatch, false);
  const present = [...new Set(idList.filter((id) => store.has(id)))];
  if (present.length === 0) return { deleted: 0 };
  await commit(ctx, { t: 'delete', collection: store.name, ids: present });
  return { deleted: present.length };
}
