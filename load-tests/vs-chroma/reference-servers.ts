/**
 * Starts the benchmark's reference servers as their own processes, with the flags and
 * environment hotvec runs with, so that their CPU per query is measured like hotvec's: the HTTP
 * transport floor (transport-floor.ts) and the search ceiling (search-ceiling.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { MALLOC_ENV, NODE_FLAGS } from '../../test/helpers/hotvec.js';
import type { IndexSettings } from '../../src/vector-index/settings.js';

export interface ReferenceServer {
  /** Where queries go (POST, hotvec's JSON query body). */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startReference(script: string, args: string[]): Promise<ReferenceServer> {
  const path = new URL(script, import.meta.url).pathname;
  const proc: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, path, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...MALLOC_ENV, ...process.env },
  });
  const exited = once(proc, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    void exited.then(([code]) => reject(new Error(`${script} exited with ${String(code)} before listening`)));
  });
  return {
    url: `http://127.0.0.1:${port}/query`,
    pid: proc.pid!,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** uWS and hotvec's JSON scan and answer, no search, on one thread. */
export function startTransportFloor(dimension: number, k: number): Promise<ReferenceServer> {
  return startReference('./transport-floor.js', [String(dimension), String(k)]);
}

export interface CeilingJob {
  dim: number;
  k: number;
  ef: number;
  candidates: number;
  /** As many as hotvec's query workers. */
  threads: number;
  settings: IndexSettings;
  /** hotvec's graph files, searched as the bare baseline searches them. */
  files: string[];
}

/** The transport floor and the bare search inline in each of `threads` threads sharing one port. */
export function startSearchCeiling(job: CeilingJob): Promise<ReferenceServer> {
  return startReference('./search-ceiling.js', [JSON.stringify(job)]);
}
