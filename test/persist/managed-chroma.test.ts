/**
 * ManagedChroma against the real Chroma server: start, stop, and above all that no Chroma
 * process survives its owner — not after close(), not after the owner is SIGKILLed, not
 * when a pid file names a stale one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { resolveChromaCommand } from '../../src/persist/chroma-runtime.js';
import { ChromaTier } from '../../src/persist/chroma-tier.js';
import { isAlive, ManagedChroma, type ChromaExit } from '../../src/persist/managed-chroma.js';
import { HotvecError } from '../../src/errors.js';
import { freePort } from '../../src/platform/free-port.js';

const root = mkdtempSync(join(tmpdir(), 'hotvec-managed-chroma-'));
let dirs = 0;
const freshDir = (): string => join(root, `d${++dirs}`);
const cleanups: (() => unknown)[] = [];

after(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(root, { recursive: true, force: true });
});

async function heartbeat(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/api/v2/heartbeat`, { signal: AbortSignal.timeout(2000) });
    return res.ok;
  } catch {
    return false;
  }
}

/** Processes that are not our children signal nothing when they end: poll, bounded. */
async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

function readPidFile(dataDir: string): { chroma: number; watchdog: number } {
  return JSON.parse(readFileSync(join(dataDir, 'chroma.pid'), 'utf8')) as { chroma: number; watchdog: number };
}

describe('ManagedChroma', () => {
  it('starts a Chroma that answers, records its pid, and close() leaves no process behind', async () => {
    const dataDir = freshDir();
    const chroma = await ManagedChroma.start({ dataDir });
    cleanups.push(() => chroma.destroy());
    const exits: ChromaExit[] = [];
    chroma.on('exit', (e: ChromaExit) => exits.push(e));

    assert.match(chroma.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(chroma.port > 0);
    assert.equal(await heartbeat(chroma.url), true);
    const pids = readPidFile(dataDir);
    assert.equal(pids.chroma, chroma.pid);
    assert.ok(isAlive(pids.chroma) && isAlive(pids.watchdog));
    assert.ok(existsSync(chroma.logFile));

    await chroma.close();
    assert.equal(isAlive(pids.chroma), false, 'Chroma still runs after close()');
    assert.equal(await waitUntilGone(pids.watchdog, 5000), true, 'watchdog still runs after close()');
    assert.equal(existsSync(join(dataDir, 'chroma.pid')), false);
    assert.equal(await heartbeat(chroma.url), false);
    await chroma.close(); // idempotent
    assert.deepEqual(exits, [], 'close() is not an unexpected exit');
  });

  it('runs Chroma, every thread of it, at the nice value asked for', { skip: process.platform !== 'linux' && 'per-thread nice values are Linux only' }, async () => {
    const ours = getPriority(process.pid);
    const chroma = await ManagedChroma.start({ dataDir: freshDir(), nice: 6 });
    cleanups.push(() => chroma.destroy());
    assert.equal(await heartbeat(chroma.url), true);
    const niceOf = (pid: number, tid: string): number | undefined => {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      } catch {
        return undefined; // the thread ended since the listing
      }
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19, counted after the name
    };
    const nices = readdirSync(`/proc/${chroma.pid}/task`).map((t) => niceOf(chroma.pid, t)).filter((n) => n !== undefined);
    assert.ok(nices.length > 1, 'Chroma runs threads');
    assert.deepEqual(new Set(nices), new Set([Math.max(6, ours)]));
    assert.equal(getPriority(process.pid), ours, 'the engine itself keeps its priority');
    await chroma.close();
  });

  it("emits 'exit' when Chroma dies on its own", async () => {
    const chroma = await ManagedChroma.start({ dataDir: freshDir() });
    cleanups.push(() => chroma.destroy());
    const exited = once(chroma, 'exit');
    process.kill(chroma.pid, 'SIGKILL');
    const [e] = (await exited) as [ChromaExit];
    assert.equal(e.signal, 'SIGKILL');
    await chroma.close();
  });

  it('keeps acknowledged writes across a SIGKILL stop and a restart on the same folder', async () => {
    const dataDir = freshDir();
    const first = await ManagedChroma.start({ dataDir });
    cleanups.push(() => first.destroy());
    const tier = new ChromaTier({ url: first.url });
    await tier.createCollection('keep', { dimension: 2, metric: 'l2' });
    const ids = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await tier.applyBatch('keep', { deleteIds: ids, upserts: { ids, embeddings: new Float32Array(100).map((_, i) => i) } });
    await first.close();

    const second = await ManagedChroma.start({ dataDir });
    cleanups.push(() => second.destroy());
    const again = new ChromaTier({ url: second.url });
    assert.equal(await again.count('keep'), 50);
    const seen: number[] = [];
    for await (const page of again.scan('keep', 20)) {
      page.ids.forEach((id, i) => {
        const k = Number(id.slice(1));
        assert.deepEqual([...page.embeddings.subarray(i * 2, i * 2 + 2)], [2 * k, 2 * k + 1]);
        seen.push(k);
      });
    }
    assert.deepEqual(seen.sort((a, b) => a - b), ids.map((_, i) => i));
    await second.close();
  });

  it('kills a stale Chroma named by the pid file before starting, and nothing else', async () => {
    const dataDir = freshDir();
    // A Chroma left behind by a dead owner: started by hand, pid file without a live owner.
    const cmd = await resolveChromaCommand();
    const port = await freePort();
    const stale = spawn(cmd.command, [...cmd.args, 'run', '--path', dataDir, '--host', '127.0.0.1', '--port', String(port)], { stdio: 'ignore', detached: true });
    cleanups.push(() => stale.kill('SIGKILL'));
    const staleUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    while (!(await heartbeat(staleUrl))) {
      assert.ok(Date.now() < deadline, 'the hand-started Chroma never answered');
      await new Promise((r) => setTimeout(r, 100));
    }
    writeFileSync(join(dataDir, 'chroma.pid'), `${JSON.stringify({ chroma: stale.pid, owner: { pid: 999_999_999, startTime: '1' } })}\n`);

    const chroma = await ManagedChroma.start({ dataDir });
    cleanups.push(() => chroma.destroy());
    assert.equal(isAlive(stale.pid!), false, 'the stale Chroma was not killed');
    assert.equal(await heartbeat(staleUrl), false);
    assert.equal(await heartbeat(chroma.url), true);
    await chroma.close();

    // A pid file naming a live process that is not a Chroma on this folder (a reused pid).
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    cleanups.push(() => bystander.kill('SIGKILL'));
    writeFileSync(join(dataDir, 'chroma.pid'), `${bystander.pid}\n`);
    const next = await ManagedChroma.start({ dataDir });
    cleanups.push(() => next.destroy());
    assert.equal(isAlive(bystander.pid!), true, 'an unrelated process was killed');
    await next.close();
  });

  it('refuses a folder whose Chroma belongs to a live owner', async () => {
    const dataDir = freshDir();
    const owner = await ManagedChroma.start({ dataDir });
    cleanups.push(() => owner.destroy());
    await assert.rejects(ManagedChroma.start({ dataDir }), (err: unknown) => {
      assert.ok(err instanceof HotvecError);
      assert.equal(err.code, 'HOTVEC_CHROMA_UNAVAILABLE');
      assert.match(err.message, /still running/);
      return true;
    });
    assert.equal(await heartbeat(owner.url), true, 'the owner’s Chroma was disturbed');
    await owner.close();
  });

  it('kills Chroma when its owner process is SIGKILLed', async () => {
    const dataDir = freshDir();
    const moduleUrl = new URL('../../src/persist/managed-chroma.js', import.meta.url).href;
    const script = `
      import { ManagedChroma } from ${JSON.stringify(moduleUrl)};
      const chroma = await ManagedChroma.start({ dataDir: ${JSON.stringify(dataDir)} });
      console.log(JSON.stringify({ pid: chroma.pid, url: chroma.url }));
    `;
    const owner = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => owner.kill('SIGKILL'));
    const [line] = (await once(createInterface({ input: owner.stdout! }), 'line')) as [string];
    const { pid, url } = JSON.parse(line) as { pid: number; url: string };
    const { watchdog } = readPidFile(dataDir);
    assert.equal(await heartbeat(url), true);

    const ownerExit = once(owner, 'exit');
    owner.kill('SIGKILL');
    await ownerExit;
    assert.equal(await waitUntilGone(pid, 10_000), true, `Chroma ${pid} outlived its SIGKILLed owner`);
    assert.equal(await waitUntilGone(watchdog, 10_000), true, `watchdog ${watchdog} outlived its SIGKILLed owner`);
    assert.equal(await heartbeat(url), false);
  });

  it('refuses a port that is already taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => blocker.close(r)));
    const port = (blocker.address() as { port: number }).port;
    await assert.rejects(ManagedChroma.start({ dataDir: freshDir(), port }), (err: unknown) => {
      assert.ok(err instanceof HotvecError);
      assert.equal(err.code, 'HOTVEC_CHROMA_UNAVAILABLE');
      assert.match(err.message, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      return true;
    });
  });

  it('fails with the tail of Chroma’s log when Chroma exits during start', async () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'chroma.sqlite3'), Buffer.alloc(8192, 7)); // not a SQLite file
    await assert.rejects(ManagedChroma.start({ dataDir, startTimeoutMs: 20_000 }), (err: unknown) => {
      assert.ok(err instanceof HotvecError);
      assert.equal(err.code, 'HOTVEC_CHROMA_UNAVAILABLE');
      assert.match(err.message, /exited .* before answering/);
      assert.match(err.message, /file is not a database/);
      return true;
    });
    assert.equal(existsSync(join(dataDir, 'chroma.pid')), false);
  });

  it('validates its options', async () => {
    await assert.rejects(ManagedChroma.start({ dataDir: freshDir(), port: 70000 }), /port must be an integer in 0\.\.65535/);
    await assert.rejects(ManagedChroma.start({ dataDir: '' }), /dataDir must be a non-empty path/);
    await assert.rejects(ManagedChroma.start({ dataDir: freshDir(), startTimeoutMs: 0 }), /startTimeoutMs must be > 0/);
  });
});
