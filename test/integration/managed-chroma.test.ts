/**
 * The default mode, as `npm start` runs it: hotvec starts and owns a local Chroma, stops it
 * on SIGTERM after flushing, and never leaves it behind, even when killed with SIGKILL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ChromaClient } from 'chromadb';
import { MAIN, call, removeDir, startHotvec, tempDir, type Hotvec } from '../helpers/hotvec.js';

const dirs: string[] = [];
let current: Hotvec | undefined;

after(async () => {
  await current?.kill9();
  for (const d of dirs) await removeDir(d);
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !alive(pid);
}

const chromaPid = (dataDir: string): number => (JSON.parse(readFileSync(join(dataDir, 'chroma', 'chroma.pid'), 'utf8')) as { chroma: number }).chroma;

test('managed Chroma: data lands in Chroma, SIGTERM stops both, a restart recovers, kill -9 leaves no Chroma behind', async () => {
  const dataDir = await tempDir();
  dirs.push(dataDir);
  current = await startHotvec({ dataDir });
  const pid1 = chromaPid(dataDir);
  assert.ok(alive(pid1), 'Chroma runs while hotvec runs');
  await call(current.url, 'POST', '/v1/collections', { name: 'm', dimension: 2 });
  await call(current.url, 'POST', '/v1/collections/m/upsert', { ids: ['a', 'b'], embeddings: [[1, 2], [3, 4]], documents: ['x', 'y'] });

  assert.equal(await current.stop(), 0, 'graceful stop exits 0');
  assert.ok(await waitGone(pid1, 5000), 'Chroma is stopped with hotvec');

  current = await startHotvec({ dataDir });
  const g = await call(current.url, 'POST', '/v1/collections/m/get', { ids: ['a', 'b'], include: ['embeddings', 'documents'] });
  assert.deepEqual(g.body, { ids: ['a', 'b'], embeddings: [[1, 2], [3, 4]], documents: ['x', 'y'] });
  // The records are in the managed Chroma itself, not only in hotvec's WAL.
  const pid2 = chromaPid(dataDir);
  const ports = [...readFileSync(join(dataDir, 'chroma', 'chroma.log'), 'utf8').matchAll(/Connect to Chroma at: http:\/\/[^:]+:(\d+)/g)];
  assert.ok(ports.length >= 2, 'both runs logged their Chroma address');
  const port = Number(ports[ports.length - 1]![1]);
  const col = await new ChromaClient({ host: '127.0.0.1', port }).getCollection({ name: 'hotvec_m', embeddingFunction: null as never });
  assert.equal(await col.count(), 2);

  await current.kill9();
  current = undefined;
  assert.ok(await waitGone(pid2, 10_000), 'the watchdog kills Chroma when hotvec dies by SIGKILL');
});

test('a --port another process listens on stops the start with exit status 2 and a one-line message, before a managed Chroma is started', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const port = (holder.address() as AddressInfo).port;
  const dir = await tempDir();
  dirs.push(dir);
  try {
    const proc = spawn(process.execPath, [MAIN, '--port', String(port), '--data-dir', dir, '--workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdout.resume();
    const [code] = (await once(proc, 'exit')) as [number | null];
    assert.equal(code, 2, stderr);
    assert.match(stderr, /^hotvec: cannot listen on 127\.0\.0\.1:\d+ \(port in use\)$/m);
    assert.ok(!existsSync(join(dir, 'chroma')), 'found before the managed Chroma was started');
    // The pid file goes with a clean stop: look for any process still naming the data folder.
    const naming = (): string[] =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .flatMap((p) => {
          try {
            const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
            return cmd.includes(dir) ? [cmd] : [];
          } catch {
            return [];
          }
        });
    assert.deepEqual(naming(), [], 'no process of it (its Chroma included) is left');
  } finally {
    holder.close();
  }
});
