/**
 * How to start Chroma's server on this machine. The server is Rust code loaded by Node
 * (`chromadb-js-bindings-linux-x64-gnu`), built against glibc 2.39. On an older glibc
 * (Debian 12 has 2.36) it cannot load, so we run Node through a newer glibc's dynamic
 * loader instead; scripts/fetch-glibc.sh fetches that glibc once into a cache folder.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HotvecError } from '../errors.js';

/** The oldest glibc the Chroma bindings load with. */
const NEED_GLIBC = [2, 39] as const;
const LOADER = 'ld-linux-x86-64.so.2';
const HOW_TO_FIX = 'run scripts/fetch-glibc.sh by hand to see why; or point hotvec at an existing Chroma with --chroma-url';

export interface ChromaCommand {
  command: string;
  args: string[];
  /** Where the runtime came from: the system's Node as is, or a private glibc (already cached or fetched now). */
  source: 'system' | 'cached-glibc' | 'fetched-glibc';
  /** Time spent fetching glibc, 0 unless `source` is 'fetched-glibc'. */
  fetchMs: number;
}

export interface ResolveChromaOptions {
  /** Folder for the private glibc; default `<project>/.cache/glibc` (or `$HOTVEC_GLIBC_DIR`). */
  cacheDir?: string;
  /** Called with human-readable progress lines; fetching glibc takes seconds the first time. */
  onProgress?: (message: string) => void;
}

/**
 * The command that runs `chroma` with the arguments to follow (`run --path … --port …`).
 * Memoised per cache folder: concurrent callers share one fetch.
 */
export function resolveChromaCommand(opts: ResolveChromaOptions = {}): Promise<ChromaCommand> {
  const cacheDir = resolve(opts.cacheDir ?? process.env.HOTVEC_GLIBC_DIR ?? join(projectRoot(), '.cache', 'glibc'));
  let pending = memo.get(cacheDir);
  if (!pending) {
    pending = resolveUncached(cacheDir, opts.onProgress);
    // A failure is not cached: the next start may succeed (network back, script run by hand).
    pending.catch(() => memo.delete(cacheDir));
    memo.set(cacheDir, pending);
  }
  return pending;
}

const memo = new Map<string, Promise<ChromaCommand>>();

async function resolveUncached(cacheDir: string, onProgress?: (m: string) => void): Promise<ChromaCommand> {
  const cli = chromaCliPath();
  if (process.platform !== 'linux') {
    // macOS and Windows bindings have no glibc to worry about.
    return { command: process.execPath, args: [cli], source: 'system', fetchMs: 0 };
  }
  const glibc = systemGlibc();
  if (glibc === undefined) {
    throw new HotvecError('CHROMA_UNAVAILABLE', `cannot run a local Chroma: this Linux has no glibc (musl?), and Chroma's server bindings need glibc >= ${NEED_GLIBC.join('.')}; point hotvec at an existing Chroma with --chroma-url`);
  }
  if (versionAtLeast(glibc, NEED_GLIBC)) {
    return { command: process.execPath, args: [cli], source: 'system', fetchMs: 0 };
  }
  if (process.arch !== 'x64') {
    throw new HotvecError('CHROMA_UNAVAILABLE', `cannot run a local Chroma: glibc ${glibc} is older than ${NEED_GLIBC.join('.')} and a private glibc is only fetched for x86_64 (this is ${process.arch}); upgrade the OS, or point hotvec at an existing Chroma with --chroma-url`);
  }

  const libDir = join(cacheDir, 'root', 'usr', 'lib', 'x86_64-linux-gnu');
  if (existsSync(join(libDir, LOADER))) {
    return loaderCommand(libDir, cli, 'cached-glibc', 0);
  }
  onProgress?.(`system glibc ${glibc} is older than ${NEED_GLIBC.join('.')}: fetching Debian 13's glibc into ${cacheDir} (once)`);
  const started = performance.now();
  const fetched = await runFetchScript(cacheDir, onProgress);
  const fetchMs = performance.now() - started;
  if (!existsSync(join(fetched, LOADER))) {
    throw new HotvecError('CHROMA_UNAVAILABLE', `scripts/fetch-glibc.sh printed ${JSON.stringify(fetched)}, which holds no ${LOADER}; ${HOW_TO_FIX}`);
  }
  onProgress?.(`fetched glibc into ${fetched} in ${(fetchMs / 1000).toFixed(1)} s`);
  return loaderCommand(fetched, cli, 'fetched-glibc', fetchMs);
}

function loaderCommand(libDir: string, cli: string, source: ChromaCommand['source'], fetchMs: number): ChromaCommand {
  return {
    command: join(libDir, LOADER),
    // Only the loader and --library-path change; Node itself and its other libraries are the system's.
    args: ['--library-path', libDir, process.execPath, cli],
    source,
    fetchMs,
  };
}

function runFetchScript(cacheDir: string, onProgress?: (m: string) => void): Promise<string> {
  const script = join(projectRoot(), 'scripts', 'fetch-glibc.sh');
  return new Promise((resolvePath, reject) => {
    const child = execFile('bash', [script, cacheDir], { timeout: 300_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const tail = stderr.trim().split('\n').slice(-5).join(' | ');
        const why = err.killed ? 'timed out after 300 s' : `failed (${tail || err.message})`;
        reject(new HotvecError('CHROMA_UNAVAILABLE', `fetching a newer glibc for Chroma ${why}; ${HOW_TO_FIX}`, { cause: err }));
        return;
      }
      const path = stdout.trim().split('\n').pop() ?? '';
      if (path === '') {
        reject(new HotvecError('CHROMA_UNAVAILABLE', `scripts/fetch-glibc.sh printed no folder although glibc ${systemGlibc()} looks too old; ${HOW_TO_FIX}`));
        return;
      }
      resolvePath(path);
    });
    if (child.stderr && onProgress) {
      createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => {
        if (line.trim() !== '') onProgress(line.trim());
      });
    }
  });
}

/** The `chroma` CLI shipped in the chromadb package (`chroma run` starts the server). */
export function chromaCliPath(): string {
  const entry = fileURLToPath(import.meta.resolve('chromadb'));
  const cli = join(dirname(entry), 'cli.mjs');
  if (!existsSync(cli)) {
    throw new HotvecError('CHROMA_UNAVAILABLE', `the chromadb package has no server CLI at ${cli}; reinstall chromadb (npm ci)`);
  }
  return cli;
}

/** The folder holding scripts/ — found by walking up, since this file runs from src/ or dist/src/. */
function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'scripts', 'fetch-glibc.sh'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new HotvecError('CHROMA_UNAVAILABLE', `scripts/fetch-glibc.sh not found above ${fileURLToPath(import.meta.url)}; ${HOW_TO_FIX}`);
    }
    dir = parent;
  }
}

function systemGlibc(): string | undefined {
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return report.header?.glibcVersionRuntime;
}

function versionAtLeast(version: string, need: readonly [number, number]): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > need[0] || (major === need[0] && minor >= need[1]);
}
