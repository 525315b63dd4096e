/* global window, document, WebSocket, location, requestAnimationFrame, setTimeout */
/**
 * The dashboard: subscribes to the `sla` topic over /v1/ws and redraws on every push.
 * `history` fills the charts at once, `snapshot` appends a point and refreshes the SLA
 * table, `alert` adds to the alert list. Its state is on `window.hotvecDashboard` (tests
 * read it there).
 */
import { LineChart, formatValue } from './charts.js';

const COLORS = { p50: '#38bdf8', p95: '#a78bfa', p99: '#f472b6', qps: '#22d3ee', errors: '#ef4444', lag: '#fbbf24', cache: '#34d399', target: '#f87171', target2: '#c084fc' };

const state = {
  connected: false,
  points: [],
  report: null,
  targets: null,
  alerts: [],
  plotted: {},
  pushes: 0,
};
window.hotvecDashboard = state;

const $ = (id) => document.getElementById(id);

const charts = {
  throughput: new LineChart($('chart-throughput'), { unit: '/s', series: [{ key: 'queriesPerSec', label: 'queries/s', color: COLORS.qps }, { key: 'requestsPerSec', label: 'all requests/s', color: '#64748b' }] }),
  latency: new LineChart($('chart-latency'), {
    unit: 'ms',
    robust: true,
    series: [
      { key: 'p50', label: 'p50', color: COLORS.p50 },
      { key: 'p95', label: 'p95', color: COLORS.p95 },
      { key: 'p99', label: 'p99', color: COLORS.p99 },
    ],
    targets: () => (state.targets ? [{ value: state.targets.queryP99Ms, label: `p99 target ${state.targets.queryP99Ms} ms`, color: COLORS.target }, { value: state.targets.queryP95Ms, label: `p95 target ${state.targets.queryP95Ms} ms`, color: COLORS.target2 }] : []),
  }),
  errors: new LineChart($('chart-errors'), { unit: '/s', series: [{ key: 'errorsPerSec', label: '5xx/s', color: COLORS.errors }] }),
  lag: new LineChart($('chart-lag'), {
    unit: 'ms',
    robust: true,
    series: [{ key: 'lagMs', label: 'oldest unflushed write', color: COLORS.lag }],
    targets: () => (state.targets ? [{ value: state.targets.writeLagMs, label: `target ${state.targets.writeLagMs} ms`, color: COLORS.target }] : []),
  }),
  cache: new LineChart($('chart-cache'), { unit: '%', yMax: 1, series: [{ key: 'hitRatio', label: 'hit ratio', color: COLORS.cache }] }),
};

let scheduled = false;
function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    for (const [name, chart] of Object.entries(charts)) state.plotted[name] = chart.draw(state.points);
    renderStatus();
    renderObjectives();
    renderAlerts();
  });
}

function renderStatus() {
  const status = state.report?.status ?? 'unknown';
  const badge = $('status');
  badge.className = `badge ${status}`;
  badge.dataset.status = status;
  badge.textContent = state.report ? `SLA ${status}` : 'waiting for data';
  $('connection').textContent = state.connected ? 'live' : 'disconnected — retrying';
  $('updated').textContent = state.report ? `updated ${new Date(state.report.generatedAt).toLocaleTimeString()}` : '–';
  const cache = state.report?.cache;
  $('cache-note').textContent = state.report && !cache ? 'no query cache' : '';
}

function burn(o, long, short, rate) {
  const a = o.burnRates[long] ?? 0;
  const b = o.burnRates[short] ?? 0;
  const pair = `${long} & ${short} ≥ ${rate}×`;
  // The pair as the report names it (burn-rate.ts describePair). A pair burning on too few
  // events to start (--sla-min-events) does not fire: shown, marked apart.
  const mark = (o.firing ?? []).includes(pair)
    ? ' class="hot"'
    : (o.withheld ?? []).includes(pair)
      ? ` class="withheld" title="burning, but fewer than ${o.minEvents} events in ${long}: not firing"`
      : '';
  return `<td${mark}>${a.toFixed(2)}× / ${b.toFixed(2)}×</td>`;
}

function renderObjectives() {
  const rows = (state.report?.objectives ?? []).map((o) => {
    const fmt = (v) => (o.unit === 'ratio' ? `${(v * 100).toPrecision(3)}%` : formatValue(v, 'ms'));
    const left = Math.max(0, Math.min(1, o.budgetRemaining));
    return `<tr data-objective="${o.name}" data-status="${o.status}">
      <td class="desc"><span class="name">${o.name}</span>${escapeHtml(o.description)}</td>
      <td><span class="pill ${o.status}">${o.status}</span></td>
      <td${o.samples > 0 && o.currentJudged === false ? ` class="withheld" title="not judged: ${o.samples} of the ${o.minEvents} samples needed"` : ''}>${o.samples > 0 ? fmt(o.current) : '–'} <small>(${o.window})</small></td>
      <td>${fmt(o.target)}</td>
      ${burn(o, '5m', '30s', 14.4)}${burn(o, '30m', '2m30s', 6)}${burn(o, '1h', '5m', 3)}
      <td><span class="budget"><i style="width:${(left * 100).toFixed(1)}%;background:${left > 0.5 ? 'var(--ok)' : left > 0.1 ? 'var(--warning)' : 'var(--breach)'}"></i></span>${(left * 100).toFixed(1)}%</td>
    </tr>`;
  });
  $('objectives').innerHTML = rows.join('');
}

function renderAlerts() {
  const list = $('alerts');
  if (state.alerts.length === 0) return;
  list.innerHTML = state.alerts
    .slice(0, 50)
    .map((a) => `<li data-to="${a.to}"><time>${new Date(a.at).toLocaleTimeString()}</time><span class="pill ${a.to}">${a.to}</span> ${a.objective} (${a.from} → ${a.to})${a.firing.length ? ` — ${escapeHtml(a.firing.join(', '))}` : ''}</li>`)
    .join('');
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

let retryMs = 500;
function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`);
  ws.onopen = () => {
    state.connected = true;
    retryMs = 500;
    ws.send(JSON.stringify({ id: 'dashboard', op: 'subscribe', topic: 'sla' }));
    render();
  };
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.topic !== 'sla') return;
    state.pushes++;
    if (msg.event === 'history') {
      state.points = msg.data.points;
      state.targets = msg.data.targets;
    } else if (msg.event === 'snapshot') {
      state.points.push(msg.data.point);
      if (state.points.length > 600) state.points.splice(0, state.points.length - 600);
      state.report = msg.data.report;
    } else if (msg.event === 'alert') {
      state.alerts.unshift(msg.data);
    }
    render();
  };
  ws.onclose = () => {
    state.connected = false;
    render();
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  };
}

window.addEventListener('resize', render);
render();
connect();
