/**
 * Starts the benchmark's reference servers as their own processes, with the flags and
 * environment hotvec runs with, so that their CPU per query is measured like hotvec's: the HTTP
 * transport floor (transport-floor.ts) and the search ceiling (search-ceiling.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { MALLOC_ENV, NODE_FLAGS } from '../../test/helpers/hotvec.js';
import type { CeilingJob } from './search-ceiling.js';

export interface ReferenceServer {
  /** Where queries go (POST, hotvec's JSON query body). */
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Longest wait for a reference server to say it listens (the search ceiling maps graph files first). */
const START_TIMEOUT_MS = 120_000;

async function startReference(script: string, args: string[]): Promise<ReferenceServer> {
  const path = new URL(script, import.meta.url).pathname;
  const proc: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, path, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...MALLOC_ENV, ...process.env },
  });
  const exited = once(proc, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${script} did not listen within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    void exited.then(([code, signal]) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${String(code ?? signal)}) before listening`));
    });
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

/** The transport floor and the bare search inline in each of `threads` threads sharing one port (search-ceiling.ts). */
export function startSearchCeiling(job: CeilingJob): Promise<ReferenceServer> {
  return startReference('./search-ceiling.js', [JSON.stringify(job)]);
}
