/**
 * A tiny process between the engine and Chroma, so Chroma never outlives the engine.
 *
 * Chroma ignores SIGTERM and SIGINT, and nothing on Linux that Node can reach kills a child
 * when its parent dies. So the engine spawns this watchdog with a stdin pipe it never writes
 * to: when the engine exits for any reason, even SIGKILL, the kernel closes the pipe, stdin
 * ends here, and the watchdog SIGKILLs Chroma. The engine stops Chroma the same way, by
 * ending the pipe; SIGTERM to the watchdog works too.
 *
 *   engine ──stdin pipe──▶ watchdog ──spawn──▶ chroma run …
 *          ◀──stdout: one JSON line per event (spawned, exit, error)
 *   watchdog's stderr is Chroma's log file; Chroma writes its stdout and stderr there too.
 *
 * Run as `node chroma-watchdog.js '<WatchdogConfig JSON>'`; the config is in argv on
 * purpose, so /proc/<pid>/cmdline names the data folder.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lowerThreadPriority } from '../platform/priority.js';

export interface WatchdogConfig {
  command: string;
  args: string[];
  /** Written with Chroma's pid once it is spawned, removed when it exits. */
  pidFile: string;
  /** Recorded in the pid file so a later start can tell a stale Chroma from a live one. */
  owner: { pid: number; startTime: string };
  /** Nice value Chroma runs at (Linux; 0 = unchanged): background work, below the engine's request path. */
  nice: number;
}

/** One line on the watchdog's stdout. */
export type WatchdogEvent =
  | { event: 'spawned'; pid: number }
  | { event: 'exit'; code: number | null; signal: string | null }
  | { event: 'error'; message: string };

/** What the pid file holds. */
export interface PidFileContent {
  chroma: number;
  watchdog?: number;
  owner?: { pid: number; startTime: string };
}

function main(): void {
  const config = JSON.parse(process.argv[2] ?? '') as WatchdogConfig;
  const send = (e: WatchdogEvent): void => {
    // The engine may be gone; a broken stdout must not stop us from killing Chroma.
    try {
      process.stdout.write(`${JSON.stringify(e)}\n`);
    } catch {
      /* engine gone */
    }
  };
  process.stdout.on('error', () => {});

  // Chroma is forked from this thread and inherits its nice value (and so do all its threads).
  if (config.nice > 0) lowerThreadPriority(config.nice);
  const child = spawn(config.command, config.args, {
    // Chroma reads nothing; its output goes where ours does (the log file).
    stdio: ['ignore', 2, 2],
    env: chromaEnv(process.env),
  });
  let parentGone = false;
  const killChroma = (): void => {
    parentGone = true;
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  // Handlers run on later ticks, after spawn() returned: there is always a child to kill.
  process.stdin.on('end', killChroma);
  process.stdin.on('close', killChroma);
  process.stdin.on('error', killChroma);
  process.stdin.resume();
  process.on('SIGTERM', killChroma);
  // Keyboard signals are the engine's to handle; it stops Chroma after flushing.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});

  child.on('error', (err) => {
    send({ event: 'error', message: err.message });
    process.exit(1);
  });
  child.on('spawn', () => {
    const pid = child.pid ?? 0;
    const content: PidFileContent = { chroma: pid, watchdog: process.pid, owner: config.owner };
    try {
      writeFileSync(config.pidFile, `${JSON.stringify(content)}\n`);
    } catch (err) {
      process.stderr.write(`hotvec chroma-watchdog: cannot write ${config.pidFile}: ${String(err)}\n`);
    }
    send({ event: 'spawned', pid });
    if (parentGone) child.kill('SIGKILL');
  });
  child.on('exit', (code, signal) => {
    removePidFile(config.pidFile, child.pid ?? 0);
    send({ event: 'exit', code, signal });
    process.exit(0);
  });
}

/** Removes the pid file only if it still names this Chroma (a newer start may own it now). */
function removePidFile(path: string, pid: number): void {
  try {
    const content = JSON.parse(readFileSync(path, 'utf8')) as PidFileContent;
    if (content.chroma === pid) rmSync(path, { force: true });
  } catch {
    /* already gone or unreadable: nothing to remove */
  }
}

// Run only as a process entry, so importing this module for its types has no effect.
if (process.argv[1] === fileURLToPath(import.meta.url)) main();

/**
 * Chroma's environment: ours, without the C allocator thresholds `npm start` sets for hotvec
 * (they make every allocation of 128 KiB or more a fresh mapping; Chroma's indexing does many).
 */
function chromaEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { MALLOC_MMAP_THRESHOLD_: _mmap, MALLOC_TRIM_THRESHOLD_: _trim, ...rest } = env;
  return { ...rest, NO_COLOR: '1' };
}
