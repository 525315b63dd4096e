/**
 * The query route of the benchmark's reference servers (transport-floor.ts, search-ceiling.ts):
 * hotvec's own body reader (reused buffers) and JSON scan, one embedding of the dimension or a
 * 400, and the answer written in hotvec's shape with hotvec's encoder.
 */
import type { TemplatedApp } from 'uWebSockets.js';
import { BodyBuffers } from '../../src/server/body-buffers.js';
import { readDecoded, ResponseState } from '../../src/server/http.js';
import { Float32Rows } from '../../src/service/float32-rows.js';

export interface Neighbours {
  ids: string[];
  distances: number[];
}

/** POST `path`: `answer` gets the query vector (float32, `dimension` long). */
export function queryRoute(app: TemplatedApp, path: string, dimension: number, answer: (query: Float32Array) => Neighbours): void {
  const buffers = new BodyBuffers();
  app.post(path, (res, req) => {
    const state = new ResponseState(res);
    const length = Number(req.getHeader('content-length'));
    readDecoded(state, 64 << 20, length, 'json', buffers).then(
      (decoded) => {
        const rows = (decoded as { embeddings?: unknown }).embeddings;
        if (!(rows instanceof Float32Rows) || rows.rowLengths.length !== 1 || rows.rowLengths[0] !== dimension) {
          state.send(400, '{"error":"expected one embedding of the dimension"}', 'application/json');
          return;
        }
        const { ids, distances } = answer(rows.values);
        state.sendValue(200, { ids: [ids], distances: [distances] }, 'json');
      },
      (err: unknown) => state.send(413, JSON.stringify({ error: String(err) }), 'application/json', true),
    );
  });
}
