/**
 * The hotvec under load: one already running at `--url`, or (`--start`) the real engine started
 * by the tool in a temporary data folder with its managed Chroma, the way the integration tests
 * and load-tests/baseline.ts run it, and removed afterwards.
 */
import { removeDir, startHotvec, type Hotvec } from '../../test/helpers/hotvec.js';
import type { LoadTestOptions } from './options.js';

export interface Target {
  url: string;
  startedByTool: boolean;
  /** Stops the engine the tool started (idempotent); nothing for an external one. */
  close(): Promise<void>;
}

export async function openTarget(o: LoadTestOptions): Promise<Target> {
  if (!o.start) {
    let status: number;
    try {
      status = (await fetch(`${o.url}/health`)).status;
    } catch (err) {
      throw new Error(`no hotvec answers at ${o.url} (${(err as Error).message}); start one, or pass --start`);
    }
    if (status !== 200) throw new Error(`hotvec at ${o.url} is not ready: GET /health answered ${status}`);
    return { url: o.url, startedByTool: false, close: async () => undefined };
  }
  const hv: Hotvec = await startHotvec({
    args: ['--workers', String(o.workers), '--fsync', o.fsync, ...o.engineArgs],
    ...(o.chromaUrl ? { chromaUrl: o.chromaUrl } : {}),
  });
  let closing: Promise<void> | undefined;
  return {
    url: hv.url,
    startedByTool: true,
    close: () =>
      (closing ??= (async () => {
        await hv.stop();
        await removeDir(hv.dataDir);
      })()),
  };
}

/**
 * Waits until the engine's write-behind queue is empty (`writeBehind.ops` of `GET /v1/sla`), so
 * that a freshly uploaded data set is not still being copied into Chroma, competing for CPU,
 * while the measured run starts. Returns the seconds waited, or undefined when the engine does
 * not report its write-behind state.
 */
export async function waitForWriteBehind(url: string, timeoutMs: number): Promise<number | undefined> {
  const started = performance.now();
  for (;;) {
    let ops: unknown;
    try {
      const res = await fetch(`${url}/v1/sla`);
      if (!res.ok) return undefined;
      ops = ((await res.json()) as { writeBehind?: { ops?: unknown } }).writeBehind?.ops;
    } catch {
      return undefined;
    }
    if (typeof ops !== 'number') return undefined;
    const waited = (performance.now() - started) / 1000;
    if (ops === 0) return waited;
    if (waited * 1000 > timeoutMs) throw new Error(`the write-behind still holds ${ops} operations after ${Math.round(waited)} s; is Chroma reachable?`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
