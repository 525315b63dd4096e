/**
 * A shared fixture for integration tests that start and restart engines against one real
 * Chroma: registers a `before` that starts the Chroma and an `after` that kills every engine
 * still running (engines a test stopped itself are left alone), removes every data folder handed out, and stops the Chroma. Call it once at
 * the top level of a test file, before the file's own hooks.
 */
import { after, before } from 'node:test';
import { startTestChroma, type TestChroma } from './chroma.js';
import { removeDir, startHotvec, tempDir, type Hotvec, type StartOptions } from './hotvec.js';

export interface Engines {
  /** The shared Chroma (available from the first test on). */
  readonly chroma: TestChroma;
  /** A fresh data folder, removed after the file's tests. */
  dataDir(): Promise<string>;
  /** Starts an engine on `dataDir` against the shared Chroma with the fixture's args (plus `extra`). */
  start(dataDir: string, extra?: Omit<StartOptions, 'dataDir' | 'chromaUrl'>): Promise<Hotvec>;
}

export function useEngines(args: string[] = []): Engines {
  let chroma: TestChroma | undefined;
  const dirs: string[] = [];
  const running = new Set<Hotvec>();
  before(async () => {
    chroma = await startTestChroma();
  });
  after(async () => {
    for (const h of running) await h.kill9();
    for (const d of dirs) await removeDir(d);
    await chroma?.close();
  });
  return {
    get chroma(): TestChroma {
      if (!chroma) throw new Error('the shared Chroma is not started yet (use it inside tests)');
      return chroma;
    },
    async dataDir() {
      const d = await tempDir();
      dirs.push(d);
      return d;
    },
    async start(dataDir, extra = {}) {
      const h = await startHotvec({ ...extra, chromaUrl: this.chroma.url, dataDir, args: [...args, ...(extra.args ?? [])] });
      running.add(h);
      return h;
    },
  };
}
