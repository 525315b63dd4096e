/**
 * A Chroma server that hotvec starts, owns and stops: `chroma run` on a data folder and a
 * local port, behind a watchdog process (chroma-watchdog.ts) so it dies with the engine.
 *
 * The data folder holds Chroma's own files plus two of ours:
 *   chroma.pid   {"chroma":pid,"watchdog":pid,"owner":{pid,startTime}} while it runs
 *   chroma.log   Chroma's stdout and stderr, appended per start (rotated past 10 MiB)
 *
 * Chroma does not exit on SIGTERM/SIGINT (it keeps running and spins a core), so it is
 * stopped with SIGKILL. Every write it acknowledged is already in its SQLite log by then;
 * callers stop their flusher first so nothing is in flight.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { HotvecError } from '../errors.js';
import { freePort } from '../platform/free-port.js';
import { resolveChromaCommand, type ChromaCommand } from './chroma-runtime.js';
import type { PidFileContent, WatchdogConfig, WatchdogEvent } from './chroma-watchdog.js';

export interface ManagedChromaOptions {
  /** Chroma's persist folder (created if missing); also holds chroma.pid and, by default, chroma.log. */
  dataDir: string;
  /** TCP port to listen on; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1 (Chroma has no auth here, keep it local). */
  host?: string;
  /** How long to wait for Chroma's first heartbeat; default 30 000 ms. */
  startTimeoutMs?: number;
  /** Where Chroma's stdout and stderr go; default `<dataDir>/chroma.log`. */
  logFile?: string;
  /** Private glibc cache for old systems, see resolveChromaCommand; default `<project>/.cache/glibc`. */
  glibcCacheDir?: string;
  /** Nice value (Linux) Chroma runs at; default 0 (unchanged). See platform/priority.ts. */
  nice?: number;
  /** Progress lines during start (the first start on an old glibc downloads one for seconds). */
  onProgress?: (message: string) => void;
}

const DEFAULTS = Object.freeze({ port: 0, host: '127.0.0.1', startTimeoutMs: 30_000, nice: 0 });
const PID_FILE = 'chroma.pid';
const LOG_FILE = 'chroma.log';
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;
const HEARTBEAT_POLL_MS = 50;
/** Bound on every wait for a killed process to disappear. */
const KILL_WAIT_MS = 10_000;
const WATCHDOG = join(dirname(fileURLToPath(import.meta.url)), 'chroma-watchdog.js');

export interface ChromaExit {
  code: number | null;
  signal: string | null;
}

/**
 * Events: 'exit' (ChromaExit) when Chroma or its watchdog exits without close() or
 * destroy() having been called — the flusher will then retry until it is restarted.
 */
export class ManagedChroma extends EventEmitter {
  /** http://host:port, for ChromaTier. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Chroma's process id (the watchdog's child). */
  readonly pid: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** How the runtime was found; `command.fetchMs` is the glibc download time on a first start. */
  readonly command: ChromaCommand;
  /** Milliseconds from spawn to the first answered heartbeat. */
  readonly startMs: number;

  readonly #watchdog: ChildProcess;
  readonly #watchdogExited: Promise<void>;
  #chromaRunning = true;
  #stopping = false;
  #closed: Promise<void> | undefined;

  private constructor(init: Launched) {
    super();
    this.host = init.host;
    this.port = init.port;
    this.url = `http://${urlHost(init.host)}:${init.port}`;
    this.pid = init.pid;
    this.dataDir = init.dataDir;
    this.logFile = init.logFile;
    this.command = init.command;
    this.startMs = init.startMs;
    this.#watchdog = init.watchdog;
    this.#watchdogExited = init.watchdogExited;
    if (init.chromaExit) {
      this.#chromaRunning = false;
    } else {
      init.link.once('exit', (e: ChromaExit) => this.#chromaGone({ code: e.code, signal: e.signal }));
    }
    void this.#watchdogExited.then(() => {
      if (!this.#chromaRunning) return;
      // The watchdog died on its own: Chroma would be orphaned, so stop it here.
      this.#killChromaDirectly();
      this.#chromaGone({ code: null, signal: 'watchdog exited' });
    });
  }

  #chromaGone(e: ChromaExit): void {
    if (!this.#chromaRunning) return;
    this.#chromaRunning = false;
    if (!this.#stopping) this.emit('exit', e);
  }

  static async start(options: ManagedChromaOptions): Promise<ManagedChroma> {
    const opts = validate(options);
    const dataDir = resolve(opts.dataDir);
    mkdirSync(dataDir, { recursive: true });
    const logFile = resolve(opts.logFile ?? join(dataDir, LOG_FILE));
    await killStaleChroma(dataDir);
    const command = await resolveChromaCommand({ cacheDir: opts.glibcCacheDir, onProgress: opts.onProgress });
    // A free port found here can be taken before Chroma binds it; pick another then.
    for (let attempt = 1; ; attempt++) {
      const port = opts.port !== 0 ? opts.port : await freePort(opts.host);
      const result = await launch({ command, dataDir, logFile, host: opts.host, port, timeoutMs: opts.startTimeoutMs, nice: opts.nice });
      if ('pid' in result) return new ManagedChroma(result);
      if (result.portTaken && opts.port === 0 && attempt < 3) continue;
      throw result.error;
    }
  }

  /** Stops Chroma (SIGKILL, through the watchdog) and waits until it has exited. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#stop();
    return this.#closed;
  }

  /** Kills Chroma and the watchdog at once, without waiting. */
  destroy(): void {
    this.#stopping = true;
    this.#killChromaDirectly();
    this.#watchdog.kill('SIGKILL');
    this.#closed ??= this.#watchdogExited;
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    // Ending the pipe is the watchdog's signal to SIGKILL Chroma; it exits after Chroma has.
    this.#watchdog.stdin?.end();
    const timer = setTimeout(() => this.destroy(), KILL_WAIT_MS);
    try {
      await this.#watchdogExited;
    } finally {
      clearTimeout(timer);
    }
    // Normally the watchdog reaped Chroma before exiting; if the watchdog was killed instead,
    // make sure Chroma is gone (the cmdline check guards against a reused pid).
    if (isAlive(this.pid) && cmdlineNames(this.pid, this.dataDir)) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
      await waitGone(this.pid, KILL_WAIT_MS);
    }
    this.#chromaRunning = false;
  }

  #killChromaDirectly(): void {
    if (!this.#chromaRunning) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

interface Launched {
  host: string;
  port: number;
  pid: number;
  dataDir: string;
  logFile: string;
  command: ChromaCommand;
  startMs: number;
  watchdog: ChildProcess;
  watchdogExited: Promise<void>;
  /** Emits the watchdog's events by name: 'spawned', 'exit', 'error'. */
  link: EventEmitter;
  /** Set if Chroma already exited (only possible in a race right after start). */
  chromaExit?: ChromaExit;
}

type LaunchFailure = { error: HotvecError; portTaken: boolean };

async function launch(p: {
  command: ChromaCommand; dataDir: string; logFile: string; host: string; port: number; timeoutMs: number; nice: number;
}): Promise<Launched | LaunchFailure> {
  if (!existsSync(WATCHDOG)) {
    return { error: new HotvecError('CHROMA_UNAVAILABLE', `the Chroma watchdog ${WATCHDOG} is missing; build hotvec (npx tsc -p .)`), portTaken: false };
  }
  // Another server on the port could answer the heartbeat in our Chroma's place.
  if (!(await portFree(p.host, p.port))) {
    return { error: new HotvecError('CHROMA_UNAVAILABLE', `cannot start Chroma: port ${p.port} on ${p.host} is already in use`), portTaken: true };
  }
  const logStart = openLog(p.logFile, `--- hotvec: starting Chroma on ${p.host}:${p.port}, data ${p.dataDir}, at ${new Date().toISOString()}\n`);
  const config: WatchdogConfig = {
    command: p.command.command,
    args: [...p.command.args, 'run', '--path', p.dataDir, '--host', p.host, '--port', String(p.port)],
    pidFile: join(p.dataDir, PID_FILE),
    owner: { pid: process.pid, startTime: processStartTime(process.pid) ?? '' },
    nice: p.nice,
  };
  const logFd = openSync(p.logFile, 'a');
  const started = performance.now();
  let watchdog: ChildProcess;
  try {
    // Own process group: a Ctrl-C meant for the engine must not reach Chroma, which would
    // ignore it and spin; the engine stops Chroma itself once its flusher has drained.
    watchdog = spawn(process.execPath, [WATCHDOG, JSON.stringify(config)], { stdio: ['pipe', 'pipe', logFd], detached: true });
  } finally {
    closeSync(logFd);
  }
  // 'close', not 'exit': by then every line the watchdog wrote has been read.
  const watchdogExited = once(watchdog, 'close').then(() => undefined, () => undefined);
  watchdog.stdin?.on('error', () => {}); // EPIPE once the watchdog is gone is expected
  const link = new EventEmitter();
  if (watchdog.stdout) {
    createInterface({ input: watchdog.stdout, crlfDelay: Infinity }).on('line', (line) => {
      let e: WatchdogEvent;
      try {
        e = JSON.parse(line) as WatchdogEvent;
      } catch {
        return; // not ours
      }
      link.emit(e.event, e);
    });
  }
  let chromaExit: ChromaExit | undefined;
  const exited = new Promise<'exited'>((r) => link.once('exit', (e: ChromaExit) => { chromaExit = e; r('exited'); }));

  const fail = async (why: string): Promise<LaunchFailure> => {
    watchdog.stdin?.end();
    const timer = setTimeout(() => watchdog.kill('SIGKILL'), KILL_WAIT_MS);
    await watchdogExited;
    clearTimeout(timer);
    const tail = readLogTail(p.logFile, logStart);
    return {
      error: new HotvecError('CHROMA_UNAVAILABLE', `Chroma ${why} (log ${p.logFile}${tail ? `: …${tail}` : ''})`),
      portTaken: /not available|address already in use/i.test(tail),
    };
  };

  const first = await Promise.race([
    new Promise<WatchdogEvent>((r) => link.once('spawned', r)),
    new Promise<WatchdogEvent>((r) => link.once('error', r)),
    watchdogExited.then(() => undefined),
  ]);
  if (first?.event !== 'spawned') {
    const why = first?.event === 'error' ? first.message : 'its watchdog exited before spawning it';
    return fail(`could not be spawned: ${why}`);
  }
  const pid = first.pid;

  // Wait for a heartbeat, unless Chroma exits first (port taken, bad data folder) or time runs out.
  const url = `http://${urlHost(p.host)}:${p.port}`;
  const deadline = started + p.timeoutMs;
  for (;;) {
    if (await heartbeatOk(url)) break;
    const outcome = await Promise.race([exited, delay(HEARTBEAT_POLL_MS).then(() => 'poll' as const)]);
    if (outcome === 'exited') return fail(`exited (${describeExit(chromaExit)}) before answering on ${url}`);
    if (performance.now() > deadline) return fail(`did not answer on ${url} within ${p.timeoutMs} ms`);
  }
  return {
    host: p.host, port: p.port, pid, dataDir: p.dataDir, logFile: p.logFile, command: p.command,
    startMs: performance.now() - started, watchdog, watchdogExited, link, chromaExit,
  };
}

function describeExit(e: ChromaExit | undefined): string {
  if (!e) return 'unknown status';
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

async function heartbeatOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/v2/heartbeat`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

// --- stale processes -----------------------------------------------------------------

/**
 * A pid file left by a run whose engine died (and whose watchdog could not act, e.g. both
 * were SIGKILLed) may name a Chroma still holding the data folder. Kill it, but only after
 * checking /proc/<pid>/cmdline names this folder (pids are reused), and refuse when the
 * recorded owner process is still alive: then the folder is in use, not stale.
 */
async function killStaleChroma(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, PID_FILE);
  let content: PidFileContent;
  try {
    const text = readFileSync(pidFile, 'utf8').trim();
    content = /^\d+$/.test(text) ? { chroma: Number(text) } : (JSON.parse(text) as PidFileContent);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    rmSync(pidFile, { force: true }); // unreadable: nothing can be verified from it
    return;
  }
  const chromaAlive = isAlive(content.chroma) && cmdlineNames(content.chroma, dataDir);
  if (chromaAlive && content.owner && processStartTime(content.owner.pid) === content.owner.startTime) {
    throw new HotvecError('CHROMA_UNAVAILABLE', `the Chroma on ${dataDir} (pid ${content.chroma}) belongs to process ${content.owner.pid}, which is still running; stop it or use another data folder`);
  }
  const victims = [content.chroma, content.watchdog ?? 0].filter((pid) => pid > 0 && isAlive(pid) && cmdlineNames(pid, dataDir));
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  for (const pid of victims) await waitGone(pid, KILL_WAIT_MS);
  rmSync(pidFile, { force: true });
}

/** Whether the process's argv names the folder: Chroma's `--path DIR`, or the watchdog's JSON config. */
function cmdlineNames(pid: number, dataDir: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.some((a) => a === dataDir || a.includes(JSON.stringify(dataDir)));
  } catch {
    return false;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): with the pid, it names one process. */
function processStartTime(pid: number): string | undefined {
  const fields = statFields(pid);
  return fields?.[19];
}

/** /proc/<pid>/stat fields from the 3rd (state) on; the command name before it may hold spaces. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (a zombie holds no port and no files). */
export function isAlive(pid: number): boolean {
  const fields = statFields(pid);
  if (fields) return fields[0] !== 'Z' && fields[0] !== 'X';
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Polls: a process that is not our child signals nothing when it ends. */
async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (isAlive(pid)) {
    if (performance.now() > deadline) {
      throw new HotvecError('CHROMA_UNAVAILABLE', `process ${pid} did not exit within ${timeoutMs} ms of SIGKILL`);
    }
    await delay(20);
  }
}

// --- small helpers ---------------------------------------------------------------------

function validate(o: ManagedChromaOptions): Required<Omit<ManagedChromaOptions, 'logFile' | 'glibcCacheDir' | 'onProgress'>> & ManagedChromaOptions {
  const opts = { ...DEFAULTS, ...o };
  const bad = (msg: string): never => {
    throw new HotvecError('INVALID_CONFIG', `ManagedChroma: ${msg}`);
  };
  if (typeof opts.dataDir !== 'string' || opts.dataDir === '') bad('dataDir must be a non-empty path');
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) bad(`port must be an integer in 0..65535, got ${opts.port}`);
  if (typeof opts.host !== 'string' || opts.host === '') bad('host must be a non-empty string');
  if (!Number.isFinite(opts.startTimeoutMs) || opts.startTimeoutMs <= 0) bad(`startTimeoutMs must be > 0, got ${opts.startTimeoutMs}`);
  if (!Number.isInteger(opts.nice) || opts.nice < 0 || opts.nice > 19) bad(`nice must be an integer in 0..19, got ${opts.nice}`);
  return opts;
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolveFree(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolveFree(true)));
  });
}

/** Appends a header line (rotating a large log first); returns the offset where this run's output starts. */
function openLog(path: string, header: string): number {
  mkdirSync(dirname(path), { recursive: true });
  try {
    if (statSync(path).size > LOG_ROTATE_BYTES) renameSync(path, `${path}.1`);
  } catch {
    /* no log yet */
  }
  const fd = openSync(path, 'a');
  try {
    const start = fstatSync(fd).size;
    writeSync(fd, header);
    return start;
  } finally {
    closeSync(fd);
  }
}

/** The last lines this run wrote to the log, colour codes and the ASCII banner stripped. */
function readLogTail(path: string, from: number, maxChars = 1500): string {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const start = Math.max(from, size - 16_384);
      const buf = Buffer.alloc(Math.max(0, size - start));
      readSync(fd, buf, 0, buf.length, start);
      const lines = buf.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '').split('\n') // eslint-disable-line no-control-regex
        .map((l) => l.trim())
        .filter((l) => l !== '' && !/^[(#\s]+$/.test(l) && !l.startsWith('--- hotvec:') && !BANNER.test(l));
      return lines.slice(-12).join(' | ').slice(-maxChars);
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** Chroma's start-up banner and advertising: noise in an error message. */
const BANNER = /^(Saving data to|Connect to Chroma at|Getting started guide|☁️|- Sign up|- Copy your data)/;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
