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

export interface Engine {
  /** The engine under test (available from the first test on, and in `setup`). */
  readonly hv: Hotvec;
  readonly chroma: TestChroma;
}

/**
 * One engine against its own real Chroma for a whole test file (or `describe`): started in a
 * `before`, stopped with its data folder and the Chroma in an `after`. Work that needs the
 * engine before the tests goes in `setup`, not in a `before` of the file: Node 20's runner
 * does not promise to run a file's own root hooks after this one.
 */
export function useEngine(options: Omit<StartOptions, 'chromaUrl'> & { setup?: (hv: Hotvec) => Promise<void> } = {}): Engine {
  let chroma: TestChroma | undefined;
  let hv: Hotvec | undefined;
  const { setup, ...start } = options;
  before(async () => {
    chroma = await startTestChroma();
    hv = await startHotvec({ ...start, chromaUrl: chroma.url });
    await setup?.(hv);
  });
  after(async () => {
    await hv?.stop();
    if (hv) await removeDir(hv.dataDir);
    await chroma?.close();
  });
  return {
    get hv(): Hotvec {
      if (!hv) throw new Error('the engine is not started yet (use it inside tests or later hooks)');
      return hv;
    },
    get chroma(): TestChroma {
      if (!chroma) throw new Error('the Chroma is not started yet (use it inside tests or later hooks)');
      return chroma;
    },
  };
}
