/**
 * Runs the real engine (`node dist/src/main.js`) as a child process on a free port, for
 * integration tests: the same binary a user starts, killable with SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Packr } from 'msgpackr';

export const MAIN = new URL('../../src/main.js', import.meta.url).pathname;
export const packr = new Packr({ useRecords: false });

/** The C allocator settings `npm start` runs hotvec with (package.json; README, "Runtime settings"). */
export const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' };
/** The V8 flags `npm start` runs hotvec with (package.json; README, "Runtime settings"). */
export const NODE_FLAGS = ['--single-threaded-gc', '--max-semi-space-size=4', '--expose-gc'];

export interface Hotvec {
  url: string;
  port: number;
  /** The query port's URL, when started with `--query-port`. */
  queryUrl: string | undefined;
  dataDir: string;
  proc: ChildProcess;
  /** Every stdout and stderr line so far; complete once the process closed its output. */
  logs: string[];
  /**
   * The first log line matching `pattern`, as soon as it is read: a line the engine wrote
   * before it answered a request can still be in the pipe when the answer arrives here.
   */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Graceful stop (SIGTERM) and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill9(): Promise<void>;
}

export interface StartOptions {
  dataDir?: string;
  chromaUrl?: string;
  args?: string[];
  env?: Record<string, string>;
  /** Wait for /health 200 and the `recovery done` line (default) or only for the listening line. */
  waitReady?: boolean;
}

export async function tempDir(prefix = 'hotvec-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export async function startHotvec(options: StartOptions = {}): Promise<Hotvec> {
  const dataDir = options.dataDir ?? (await tempDir());
  const args = [...NODE_FLAGS, MAIN, '--port', '0', '--data-dir', dataDir, '--workers', '2', '--log-level', 'info', ...(options.args ?? [])];
  if (options.chromaUrl) args.push('--chroma-url', options.chromaUrl);
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...MALLOC_ENV, ...process.env, ...options.env } });
  const logs: string[] = [];
  const waiters = new Set<(line: string) => void>();
  const push = (line: string): void => {
    logs.push(line);
    for (const w of waiters) w(line);
  };
  // 'close', not 'exit': the process may exit before its last output was read.
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => resolve(code)));
  createInterface({ input: proc.stderr! }).on('line', push);
  const waitForLog = (pattern: RegExp, timeoutMs = 10_000): Promise<string> => {
    const seen = logs.find((l) => pattern.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<string>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      const check = (line: string): void => {
        if (!pattern.test(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms:\n${logs.slice(-30).join('\n')}`));
      }, timeoutMs);
      waiters.add(check);
      void exited.then(() => {
        if (!waiters.has(check)) return;
        done();
        reject(new Error(`hotvec exited without a log line matching ${pattern}:\n${logs.slice(-30).join('\n')}`));
      });
    });
  };
  let queryPort: number | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      push(line);
      try {
        const rec = JSON.parse(line) as { port?: number; queryPort?: number; msg?: string };
        if (rec.msg?.startsWith('listening on') && rec.port) {
          queryPort = rec.queryPort;
          resolve(rec.port);
        }
      } catch {
        /* not a log line */
      }
    });
    exited.then((code) => reject(new Error(`hotvec exited (${code}) before listening:\n${logs.join('\n')}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  if (options.waitReady !== false) {
    await waitHealthy(url, 120_000, logs);
    // Written before /health turned 200, so every line of the start (warnings too) is here after it
    // (at the info level; a quieter start does not write it).
    const level = args.lastIndexOf('--log-level');
    if (['trace', 'debug', 'info'].includes(args[level + 1] ?? 'info')) await waitForLog(/"recovery done"/);
  }
  return {
    url,
    port,
    queryUrl: queryPort === undefined ? undefined : `http://127.0.0.1:${queryPort}`,
    dataDir,
    proc,
    logs,
    waitForLog,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const code = await exited;
      // A graceful stop that did not end with 0 is a failure to diagnose: say how it ended.
      if (code !== 0) process.stderr.write(`hotvec ${url} stopped with ${code ?? proc.signalCode}; its last log lines:\n${logs.slice(-30).join('\n')}\n`);
      return code;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

export async function waitHealthy(url: string, timeoutMs: number, logs: string[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/health`);
      if (r.status === 200) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`hotvec at ${url} not healthy after ${timeoutMs} ms:\n${logs.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
}

/** JSON request helper. */
export async function call<T = unknown>(url: string, method: string, path: string, body?: unknown): Promise<Reply<T>> {
  const r = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
}

/** msgpack request helper (request and answer in msgpack). */
export async function callMsgpack<T = unknown>(url: string, path: string, body: unknown): Promise<Reply<T>> {
  const r = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/msgpack', accept: 'application/msgpack' },
    body: packr.pack(body),
  });
  const buf = new Uint8Array(await r.arrayBuffer());
  return { status: r.status, body: packr.unpack(buf) as T };
}

/** Deterministic PRNG for test data. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

export function randomVectors(n: number, dim: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Array.from({ length: dim }, () => Math.fround(r() * 2 - 1)));
}
