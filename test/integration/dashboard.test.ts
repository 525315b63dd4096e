/**
 * The dashboard in real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * under load its charts fill with data read live over the WebSocket, and a provoked breach
 * shows as the SLA state and an alert. Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestChroma } from '../helpers/chroma.js';
import { call, randomVectors, removeDir, startHotvec, type Hotvec } from '../helpers/hotvec.js';

const CHROMIUM = process.env.HOTVEC_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../../test-artifacts/', import.meta.url);
const DIM = 32;

let chroma: Awaited<ReturnType<typeof startTestChroma>>;
let hv: Hotvec;
let breach: Hotvec;
let browser: Browser;

interface DashboardState {
  connected: boolean;
  points: { queriesPerSec: number; p50: number; p99: number; lagMs: number }[];
  report: { status: string } | null;
  alerts: { objective: string; to: string }[];
  plotted: Record<string, number>;
}

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
  chroma = await startTestChroma();
  [hv, breach, browser] = await Promise.all([
    startHotvec({ chromaUrl: chroma.url, args: ['--sla-interval-ms', '500'] }),
    startHotvec({ chromaUrl: chroma.url, args: ['--sla-interval-ms', '500', '--sla-query-p99-ms', '0.001'] }),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }),
  ]);
  await mkdir(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  await Promise.all([hv?.stop(), breach?.stop()]);
  await Promise.all([removeDir(hv?.dataDir ?? ''), removeDir(breach?.dataDir ?? '')]);
  await chroma?.close();
});

/** Upserts, then queries from `clients` concurrent clients until `stop()` resolves true. */
async function load(url: string, collection: string, until: () => Promise<boolean>, clients = 4): Promise<number> {
  await call(url, 'POST', '/v1/collections', { name: collection, dimension: DIM });
  const vectors = randomVectors(2000, DIM, 11);
  for (let i = 0; i < vectors.length; i += 500) {
    await call(url, 'POST', `/v1/collections/${collection}/upsert`, { ids: vectors.slice(i, i + 500).map((_, j) => `x${i + j}`), embeddings: vectors.slice(i, i + 500) });
  }
  let sent = 0;
  let done = false;
  const worker = async (w: number): Promise<void> => {
    for (let i = w; !done; i += clients) {
      const r = await call(url, 'POST', `/v1/collections/${collection}/query`, { embeddings: [vectors[i % vectors.length]], k: 10 });
      assert.equal(r.status, 200);
      sent++;
      if (i % 50 === 0) await call(url, 'POST', `/v1/collections/${collection}/upsert`, { ids: [`w${i}`], embeddings: [vectors[(i * 7) % vectors.length]] });
    }
  };
  const workers = Array.from({ length: clients }, (_, w) => worker(w));
  try {
    while (!(await until())) await new Promise((r) => setTimeout(r, 250));
  } finally {
    done = true;
    await Promise.all(workers);
  }
  return sent;
}

async function openDashboard(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  const res = await page.goto(`${url}/dashboard`);
  assert.equal(res?.status(), 200);
  return { page, errors };
}

// These callbacks run in the page; tsconfig has no DOM types, so they reach it through globalThis.
interface PageGlobals {
  hotvecDashboard: DashboardState;
  document: { getElementById(id: string): { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } } };
}

const state = (page: Page): Promise<DashboardState> => page.evaluate(() => (globalThis as unknown as PageGlobals).hotvecDashboard);

/** Pixels in a canvas that are not background: a chart with lines has many. */
const inkedPixels = (page: Page, id: string): Promise<number> =>
  page.evaluate((canvasId) => {
    const c = (globalThis as unknown as PageGlobals).document.getElementById(canvasId);
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i]! > 0) n++;
    return n;
  }, id);

test('under load the dashboard draws queries/s, latency against the targets, lag and the SLA state, live', async () => {
  const { page, errors } = await openDashboard(hv.url);
  const sent = await load(hv.url, 'dash', async () => {
    const s = await state(page);
    const live = s.points.filter((p) => p.queriesPerSec > 0 && p.p99 > 0);
    return live.length >= 8 && (s.plotted.latency ?? 0) > 0;
  });
  assert.ok(sent > 0);
  // Let one more push land after the load so the picture is settled, then read what the page shows.
  const before = (await state(page)).points.length;
  await page.waitForFunction((n) => (globalThis as unknown as PageGlobals).hotvecDashboard.points.length > n, before, { timeout: 10_000 });
  const s = await state(page);
  assert.equal(s.connected, true);
  assert.ok(s.points.some((p) => p.queriesPerSec > 0), 'queries/s recorded');
  assert.ok(s.points.some((p) => p.p50 > 0 && p.p99 >= p.p50), 'latency recorded');
  for (const chart of ['throughput', 'latency', 'errors', 'lag']) assert.ok(s.plotted[chart]! > 0, `${chart} chart plotted ${s.plotted[chart]} points`);
  assert.ok(['ok', 'warning', 'breach'].includes(s.report!.status));
  assert.equal(await page.getAttribute('#status', 'data-status'), s.report!.status);
  assert.equal(await page.locator('#objectives tr').count(), 4);
  assert.ok(Number(await page.getAttribute('#chart-latency', 'data-plotted')) > 0);
  assert.ok((await inkedPixels(page, 'chart-latency')) > 2000, 'the latency chart has lines on it');
  assert.ok((await inkedPixels(page, 'chart-throughput')) > 2000, 'the throughput chart has lines on it');
  await page.screenshot({ path: new URL('dashboard.png', ARTIFACTS).pathname, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a provoked breach (--sla-query-p99-ms 0.001) shows on the dashboard as the SLA state and an alert', async () => {
  const { page, errors } = await openDashboard(breach.url);
  await load(breach.url, 'dash_breach', async () => {
    const s = await state(page);
    return s.report?.status === 'breach' && s.alerts.some((a) => a.to === 'breach');
  });
  await page.waitForSelector('#status[data-status="breach"]', { timeout: 10_000 });
  assert.equal(await page.textContent('#status'), 'SLA breach');
  assert.equal(await page.getAttribute('#objectives tr[data-objective="query_latency_p99"]', 'data-status'), 'breach');
  assert.ok((await page.locator('#alerts li[data-to="breach"]').count()) >= 1);
  assert.match((await page.textContent('#alerts')) ?? '', /query_latency_p99 \(ok → breach\)/);
  await page.screenshot({ path: new URL('dashboard-breach.png', ARTIFACTS).pathname, fullPage: true });
  assert.deepEqual(errors, []);
  await page.close();
});
