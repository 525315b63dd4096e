/**
 * Routes of the observability surface, registered through Server's `extraRoutes`:
 * `GET /metrics` (Prometheus text format), `GET /v1/sla` (SLA report, JSON) and
 * `GET /dashboard` (a static page that subscribes to the `sla` WebSocket topic). Each
 * handler calls one function and writes its answer; these requests are not themselves
 * measured, so scraping does not move the SLA.
 */
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TemplatedApp } from 'uWebSockets.js';
import { HotvecError, toHotvecError } from '../errors.js';
import { ResponseState } from './http.js';

export interface ObservabilitySource {
  prometheus(): Promise<{ contentType: string; body: string }>;
  slaReport(): unknown;
}

const DASHBOARD_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'charts.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** src/dashboard, whether running from src (tsx) or from dist/src (tsc output next to the sources). */
function dashboardDir(): string {
  const candidates = [new URL('../dashboard/', import.meta.url), new URL('../../../src/dashboard/', import.meta.url)];
  for (const c of candidates) if (existsSync(new URL('index.html', c))) return fileURLToPath(c);
  throw new Error(`dashboard files not found (looked in ${candidates.map((c) => fileURLToPath(c)).join(', ')})`);
}

function loadDashboard(): Map<string, { body: string; type: string }> {
  const dir = dashboardDir();
  const files = new Map<string, { body: string; type: string }>();
  for (const [name, type] of Object.entries(DASHBOARD_FILES)) files.set(name, { body: readFileSync(`${dir}${name}`, 'utf8'), type });
  return files;
}

export function registerObservabilityRoutes(app: TemplatedApp, source: ObservabilitySource): void {
  const dashboard = loadDashboard();

  app.get('/metrics', (res) => {
    const state = new ResponseState(res);
    source.prometheus().then(
      (m) => state.send(200, m.body, m.contentType),
      (err: unknown) => state.sendError(toHotvecError(err), 'json'),
    );
  });

  app.get('/v1/sla', (res) => {
    const state = new ResponseState(res);
    try {
      state.sendValue(200, source.slaReport(), 'json');
    } catch (err) {
      state.sendError(toHotvecError(err), 'json');
    }
  });

  const page = (name: string) => (res: Parameters<Parameters<TemplatedApp['get']>[1]>[0]) => {
    const file = dashboard.get(name)!;
    new ResponseState(res).send(200, file.body, file.type);
  };
  app.get('/dashboard', page('index.html'));
  app.get('/dashboard/', page('index.html'));
  app.get('/dashboard/:file', (res, req) => {
    const name = req.getParameter(0) ?? '';
    const state = new ResponseState(res);
    const file = dashboard.get(name);
    if (file) state.send(200, file.body, file.type);
    else state.sendError(new HotvecError('ROUTE_NOT_FOUND', `no dashboard file ${name}`), 'json');
  });

  for (const path of ['/metrics', '/v1/sla', '/dashboard']) {
    app.any(path, (res, req) => {
      new ResponseState(res).sendError(new HotvecError('METHOD_NOT_ALLOWED', `${req.getMethod().toUpperCase()} is not allowed on ${path}; use GET`), 'json');
    });
  }
}
