/**
 * The HTTP transport floor of the benchmark: a server that does for a query only the transport
 * part of what hotvec's query route does — uWS, hotvec's own body reader, JSON scan and response
 * writer, none of the validation, cache, dispatch or search — and answers k made-up neighbours
 * in hotvec's answer shape. It is not a product path. Its CPU per query under the same kind of
 * load (at its own, higher, saturated rate) is what hotvec's HTTP JSON handling costs before
 * anything else: hotvec's CPU per query over HTTP JSON cannot go below this floor plus the bare
 * search's with this transport. (Another server with a cheaper transport could.)
 *
 *   node dist/load-tests/vs-chroma/transport-floor.js DIMENSION K
 *
 * Prints `{"port": N}` once listening (port chosen by the OS); stops on SIGTERM.
 */
import { BodyBuffers } from '../../src/server/body-buffers.js';
import { readDecoded, ResponseState } from '../../src/server/http.js';
import { loadUws } from '../../src/server/uws.js';
import { Float32Rows } from '../../src/service/float32-rows.js';

const dimension = Number(process.argv[2]);
const k = Number(process.argv[3]);
if (!Number.isInteger(dimension) || dimension < 1 || !Number.isInteger(k) || k < 1) {
  console.error('usage: transport-floor DIMENSION K');
  process.exit(2);
}

const { uws } = loadUws();
const app = uws.App();
let answered = 0;
// As hotvec reads JSON bodies: into reused buffers, given back once decoded.
const buffers = new BodyBuffers();
app.post('/query', (res, req) => {
  const state = new ResponseState(res);
  const length = Number(req.getHeader('content-length'));
  readDecoded(state, 64 << 20, length, 'json', buffers).then(
    (decoded) => {
      const rows = (decoded as { embeddings?: unknown }).embeddings;
      if (!(rows instanceof Float32Rows) || rows.rowLengths.length !== 1 || rows.rowLengths[0] !== dimension) {
        state.send(400, '{"error":"expected one embedding of the dimension"}', 'application/json');
        return;
      }
      // k neighbours with ids and distances of hotvec's shape; the values change per query.
      const n = answered++;
      const ids: string[] = [];
      const distances: number[] = [];
      for (let i = 0; i < k; i++) {
        ids.push(`id-${(n * 7919 + i * 104729) % 1_000_000}`);
        distances.push(Math.fround(rows.values[i % dimension]! * (i + 1)));
      }
      state.sendValue(200, { ids: [ids], distances: [distances] }, 'json');
    },
    (err: unknown) => state.send(413, JSON.stringify({ error: String(err) }), 'application/json', true),
  );
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) {
    console.error('transport-floor: could not listen');
    process.exit(1);
  }
  console.log(JSON.stringify({ port: uws.us_socket_local_port(socket) }));
});
process.once('SIGTERM', () => process.exit(0));
