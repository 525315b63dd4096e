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
import { loadUws } from '../../src/server/uws.js';
import { queryRoute } from './reference-route.js';

const dimension = Number(process.argv[2]);
const k = Number(process.argv[3]);
if (!Number.isInteger(dimension) || dimension < 1 || !Number.isInteger(k) || k < 1) {
  console.error('usage: transport-floor DIMENSION K');
  process.exit(2);
}

const { uws } = loadUws();
const app = uws.App();
let answered = 0;
queryRoute(app, '/query', dimension, (query) => {
  // k neighbours with ids and distances of hotvec's shape; the values change per query.
  const n = answered++;
  const ids: string[] = [];
  const distances: number[] = [];
  for (let i = 0; i < k; i++) {
    ids.push(`id-${(n * 7919 + i * 104729) % 1_000_000}`);
    distances.push(Math.fround(query[i % dimension]! * (i + 1)));
  }
  return { ids, distances };
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) {
    console.error('transport-floor: could not listen');
    process.exit(1);
  }
  console.log(JSON.stringify({ port: uws.us_socket_local_port(socket) }));
});
process.once('SIGTERM', () => process.exit(0));
