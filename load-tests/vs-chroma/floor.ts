/**
 * Starts the HTTP transport floor (transport-floor.ts) as its own process, with the flags and
 * environment hotvec runs with, so that its CPU per query is measured like hotvec's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { MALLOC_ENV, NODE_FLAGS } from '../../test/helpers/hotvec.js';

export interface TransportFloor {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startTransportFloor(dimension: number, k: number): Promise<TransportFloor> {
  const script = new URL('./transport-floor.js', import.meta.url);
  const proc: ChildProcess = spawn(process.execPath, [...NODE_FLAGS, script.pathname, String(dimension), String(k)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...MALLOC_ENV, ...process.env },
  });
  const exited = once(proc, 'exit');
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: proc.stdout! });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    void exited.then(([code]) => reject(new Error(`the transport floor server exited with ${String(code)} before listening`)));
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
