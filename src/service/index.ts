/** The public operations, by name. HTTP and WebSocket both call exactly these. */
export { createCollection, listCollections, getCollection, deleteCollection, count } from './collections.js';
export { upsert } from './upsert.js';
export { query } from './query.js';
export { get } from './get.js';
export { deleteRecords } from './delete.js';
export { assertReady, commit, type ServiceContext } from './context.js';
